//! Property tests of the register-line model against the real kernel.
//!
//! 1. `format(parse(x)) == x` for generated canonical lines (no kernel needed).
//! 2. The validator agrees with the kernel: generated lines, valid and invalid, are parsed by
//!    `Registration::from_str` and also written to a private binfmt_misc instance (one
//!    `unshare --user --map-root-user --mount` child running a small python3 helper), and the
//!    verdicts are compared. binfmtctl must never accept a line the kernel refuses; where the
//!    kernel accepts a line binfmtctl refuses, the refusal must be one of the deliberate,
//!    documented differences (SECURITY.md, "The register-line validator"). For every line both
//!    accept, the entry file the kernel prints must be the one binfmtctl's model renders,
//!    for the line as given and for binfmtctl's canonical form of it.
//!
//! Case counts: `BINFMTCTL_PROPTEST_CASES` (default 3000 kernel cases, ~2 s).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use binfmtctl::binfmt::{Bytes, Entry, EntryName, Flags, LineError, Matcher, Registration};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

// ---------------------------------------------------------------------------------------
// 1. Canonical lines round-trip.

fn name_strategy() -> impl Strategy<Value = EntryName> {
    "[A-Za-z0-9_+-][A-Za-z0-9_.+-]{0,40}".prop_filter_map("reserved names", |s| s.parse().ok())
}

fn canonical_registration() -> impl Strategy<Value = Registration> {
    let magic = (1usize..=64)
        .prop_flat_map(|n| {
            (
                prop::collection::vec(any::<u8>(), n),
                prop::option::of(prop::collection::vec(any::<u8>(), n)),
                0..=(256 - n),
            )
        })
        .prop_map(|(magic, mask, offset)| Matcher::Magic {
            offset,
            magic: Bytes(magic),
            mask: mask.map(Bytes),
        });
    let extension = "[A-Za-z0-9_.-]{1,12}".prop_map(Matcher::Extension);
    let matcher = prop_oneof![4 => magic, 1 => extension];
    let interpreter = "(/[A-Za-z0-9_.+-]{1,20}){1,5}";
    let flags = (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(preserve_argv0, open_binary, credentials, fix_binary)| Flags {
            preserve_argv0,
            open_binary,
            credentials,
            fix_binary,
        },
    );
    (name_strategy(), matcher, interpreter, flags).prop_map(
        |(name, matcher, interpreter, flags)| Registration {
            name,
            matcher,
            interpreter,
            flags,
        },
    )
}

proptest! {
    #![proptest_config(Config { cases: 2000, ..Config::default() })]

    #[test]
    fn canonical_lines_round_trip(reg in canonical_registration()) {
        let line = reg.to_string();
        let parsed: Registration = line.parse().map_err(|e| TestCaseError::fail(format!("{line:?}: {e}")))?;
        prop_assert_eq!(&parsed, &reg);
        prop_assert_eq!(parsed.to_string(), line);
        // The line with a trailing newline (as binfmt.d files and `echo` give it) is the same.
        let with_newline = format!("{reg}\n").parse::<Registration>().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(with_newline, reg);
    }
}

// ---------------------------------------------------------------------------------------
// 2. The validator against the kernel.

/// A python3 helper in a private binfmt_misc instance: reads hex-encoded lines on stdin,
/// writes each in one write(2) to `register`, answers `ok <hex of the entry file>` or the
/// errno's name, and removes every entry after a success (`-1` to `status`). Its working
/// directory is `/`, so a relative interpreter such as `bin/sh` exists for flag F.
const HELPER: &str = r"
import errno, os, sys
R = '/proc/sys/fs/binfmt_misc'
for hexline in sys.stdin:
    data = bytes.fromhex(hexline.strip())
    fd = os.open(R + '/register', os.O_WRONLY)
    try:
        os.write(fd, data)
        res = 'ok'
    except OSError as e:
        res = errno.errorcode.get(e.errno, str(e.errno))
    finally:
        os.close(fd)
    if res == 'ok':
        name = data[1:].split(data[0:1])[0]
        with open(os.path.join(R.encode(), name), 'rb') as f:
            res = 'ok ' + f.read().hex()
        with open(R + '/status', 'w') as f:
            f.write('-1')
    print(res, flush=True)
";

struct Kernel {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// What the kernel said about a line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    /// Registered; the entry file it printed.
    Accepted(String),
    /// Refused, with the errno's name.
    Refused(String),
}

impl Kernel {
    fn start() -> Kernel {
        common::require("python3", "python3");
        let unshare = common::require("unshare", "util-linux");
        let mut child = Command::new(unshare)
            .args(["--user", "--map-root-user", "--mount", "--", "sh", "-c"])
            .arg("mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || exit 99; cd / && exec python3 -c \"$0\"")
            .arg(HELPER)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the kernel helper");
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        Kernel {
            child,
            stdin,
            stdout,
        }
    }

    fn register(&mut self, line: &[u8]) -> Verdict {
        let hex = escape(line, "", false);
        writeln!(self.stdin, "{hex}").expect("write to the kernel helper");
        let mut answer = String::new();
        self.stdout
            .read_line(&mut answer)
            .expect("read from the kernel helper");
        let answer = answer.trim_end();
        assert!(
            !answer.is_empty(),
            "the kernel helper died: {:?}",
            self.child.try_wait()
        );
        match answer.strip_prefix("ok") {
            Some(hex) => {
                let bytes: Vec<u8> = (0..hex.trim().len() / 2)
                    .map(|i| u8::from_str_radix(&hex.trim()[2 * i..2 * i + 2], 16).unwrap())
                    .collect();
                Verdict::Accepted(String::from_utf8_lossy(&bytes).into_owned())
            }
            None => Verdict::Refused(answer.to_owned()),
        }
    }
}

fn kernel() -> &'static Mutex<Kernel> {
    static K: OnceLock<Mutex<Kernel>> = OnceLock::new();
    K.get_or_init(|| Mutex::new(Kernel::start()))
}

/// One field's text, chosen to hit the kernel's rules and their edges.
fn pick(choices: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(choices).prop_map(str::to_owned)
}

fn delimiter() -> impl Strategy<Value = char> {
    prop_oneof![
        12 => Just(':'),
        1 => Just('|'),
        1 => Just(','),
        1 => Just('#'),
        1 => prop::sample::select(vec!['!', '%', '\\', '/', 'x', 'a', 'M', ' ', '\t', '\u{e9}']),
    ]
}

fn gen_name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-z][a-z0-9_.+-]{0,20}",
        1 => pick(&[".", "..", "register", "status", "", "-", "a.b", ".hidden"]),
        1 => "[a-z]{0,3}/[a-z]{0,3}",
        1 => "[a-z]{1,3}\n[a-z]{1,3}",
        1 => "[a-z]{1,3}:[a-z]{1,3}",
        1 => "[a-z]{1,3}\r",
        1 => (250usize..=258).prop_map(|n| "n".repeat(n)),
    ]
}

/// Every byte as two hex digits, each after `prefix`.
fn escape(bytes: &[u8], prefix: &str, upper: bool) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = if upper {
            write!(s, "{prefix}{b:02X}")
        } else {
            write!(s, "{prefix}{b:02x}")
        };
        s
    })
}

/// Bytes written as a magic or mask field, in one of the spellings people use.
fn encode(bytes: &[u8], style: u8, delim: char) -> String {
    match style % 5 {
        // NixOS's: letters and digits literal, the rest \xnn.
        0 => Bytes(bytes.to_vec()).to_string(),
        // Debian's: every byte \xnn.
        1 => escape(bytes, "\\x", false),
        // Upper case hex.
        2 => escape(bytes, "\\x", true),
        // Printable ASCII literal (except the delimiter and backslash).
        3 => bytes
            .iter()
            .map(|&b| {
                let c = b as char;
                if (b.is_ascii_graphic() || b == b' ') && c != delim && c != '\\' {
                    c.to_string()
                } else {
                    format!("\\x{b:02x}")
                }
            })
            .collect(),
        // Short escapes where the next character is no hex digit: `\x7g`.
        _ => {
            let mut s = String::new();
            for &b in bytes {
                if b < 16 {
                    s += &format!("\\x{b:x}");
                    s.push('g');
                } else {
                    s += &format!("\\x{b:02x}");
                }
            }
            s
        }
    }
}

#[derive(Debug, Clone)]
struct MagicSpec {
    magic: Vec<u8>,
    mask_delta: Option<i8>,
    offset: Offset,
    style: u8,
    mangle: Option<(usize, &'static str)>,
}

#[derive(Debug, Clone)]
enum Offset {
    Empty,
    Num(u32),
    /// 256 - len(magic) + delta: the edge of the kernel's header buffer.
    Edge(i8),
    Text(String),
}

fn magic_spec() -> impl Strategy<Value = MagicSpec> {
    let magic = prop_oneof![
        8 => prop::collection::vec(any::<u8>(), 1..24),
        1 => prop::collection::vec(any::<u8>(), 250..=258),
        1 => Just(Vec::new()),
    ];
    let offset = prop_oneof![
        4 => Just(Offset::Empty),
        3 => (0u32..300).prop_map(Offset::Num),
        2 => (-1i8..=1).prop_map(Offset::Edge),
        1 => pick(&["0", "00", "+1", "-1", "-0", " 1", "1 ", "abc", "99999999999", "2147483647", "2147483648", "1\n", "0x10"]).prop_map(Offset::Text),
    ];
    let mangle = prop::option::weighted(
        0.1,
        (
            0usize..64,
            prop::sample::select(vec![
                "\\x", "\\xg", "\\x7g", "\\x7", "\\\\", "\\", "\0", "\n", "\\\\x41",
            ]),
        ),
    );
    (
        magic,
        prop::option::weighted(
            0.6,
            prop_oneof![6 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8)],
        ),
        offset,
        any::<u8>(),
        mangle,
    )
        .prop_map(|(magic, mask_delta, offset, style, mangle)| MagicSpec {
            magic,
            mask_delta,
            offset,
            style,
            mangle,
        })
}

#[derive(Debug, Clone)]
struct LineSpec {
    delim: char,
    name: String,
    kind: String,
    magic: MagicSpec,
    extension: String,
    e_extra: (String, String),
    interpreter: String,
    /// Pad the interpreter with slashes (`//bin/sh` opens /bin/sh) to this line length.
    pad_to: Option<usize>,
    flags: String,
    newline: bool,
    field_delta: i8,
}

fn line_spec() -> impl Strategy<Value = LineSpec> {
    (
        (delimiter(), gen_name(), prop_oneof![8 => pick(&["M"]), 3 => pick(&["E"]), 1 => pick(&["X", "", "MM", "m", "e"])], magic_spec()),
        (
            prop_oneof![5 => "[a-z]{1,5}", 1 => pick(&["", "a/b", "a.b", "tar.gz", "a\nb", "a:b", ".py"])],
            prop_oneof![6 => Just((String::new(), String::new())), 1 => Just(("1".to_owned(), String::new())), 1 => Just((String::new(), "\\xff".to_owned()))],
        ),
        (
            prop_oneof![
                8 => pick(&["/bin/sh"]),
                1 => pick(&["/usr/bin/env", "//bin//sh", "/bin/./sh"]),
                1 => pick(&["bin/sh", "sh", "./bin/sh"]),
                1 => pick(&["", "/nonexistent/qemu", "/bin/sh\n", "/bin/s:h", "/bin/sh ", "/bin/sh\r", "/"]),
            ],
            prop::option::weighted(0.08, prop_oneof![(1916usize..=1924), (9usize..=13)]),
        ),
        (
            prop_oneof![4 => Just(String::new()), 3 => "[POCF]{1,4}", 1 => pick(&["X", "p", "PX", "F F", " ", "P\n", "\r"])],
            prop::bool::weighted(0.3),
            prop_oneof![12 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8)],
        ),
    )
        .prop_map(|((delim, name, kind, magic), (extension, e_extra), (interpreter, pad_to), (flags, newline, field_delta))| LineSpec {
            delim,
            name,
            kind,
            magic,
            extension,
            e_extra,
            interpreter,
            pad_to,
            flags,
            newline,
            field_delta,
        })
}

impl LineSpec {
    fn render(&self) -> String {
        let d = self.delim;
        let (offset, magic, mask) = if self.kind == "E" {
            (
                self.e_extra.0.clone(),
                self.extension.clone(),
                self.e_extra.1.clone(),
            )
        } else {
            let m = &self.magic;
            let mut magic = encode(&m.magic, m.style, d);
            if let Some((at, what)) = m.mangle {
                let mut at = at.min(magic.len());
                while !magic.is_char_boundary(at) {
                    at -= 1;
                }
                magic.insert_str(at, what);
            }
            let mask = m.mask_delta.map_or_else(String::new, |delta| {
                let n = m.magic.len().saturating_add_signed(isize::from(delta));
                encode(&vec![0xff; n], m.style / 5, d)
            });
            let offset = match &m.offset {
                Offset::Empty => String::new(),
                Offset::Num(n) => n.to_string(),
                Offset::Edge(delta) => 256usize
                    .saturating_sub(m.magic.len())
                    .saturating_add_signed(isize::from(*delta))
                    .to_string(),
                Offset::Text(t) => t.clone(),
            };
            (offset, magic, mask)
        };
        let mut fields = vec![
            self.name.clone(),
            self.kind.clone(),
            offset,
            magic,
            mask,
            self.interpreter.clone(),
            self.flags.clone(),
        ];
        match self.field_delta {
            -1 => {
                fields.pop();
            }
            1 => fields.push("x".into()),
            _ => {}
        }
        let newline = if self.newline { "\n" } else { "" };
        let render = |fields: &[String]| {
            let mut line = String::new();
            for f in fields {
                line.push(d);
                line += f;
            }
            line + newline
        };
        let mut line = render(&fields);
        if let (Some(target), true) = (self.pad_to, self.interpreter.starts_with('/')) {
            if line.len() < target {
                fields[5] = format!("{}{}", "/".repeat(target - line.len()), self.interpreter);
                line = render(&fields);
            }
        }
        line
    }
}

/// Why binfmtctl refuses a line the kernel accepts, when that is deliberate (each is listed
/// in SECURITY.md); None for an undocumented disagreement.
fn deliberate(line: &str, err: &LineError) -> Option<&'static str> {
    Some(match err {
        LineError::RelativeInterpreter(_) => "relative interpreter",
        LineError::Delimiter { .. } => "':', newline or NUL inside a field",
        LineError::Name(_, why) if why.contains("':', a newline") => {
            "':', newline or NUL in the name"
        }
        LineError::Extension => "E entry with an offset or mask",
        LineError::Offset(s) if s.starts_with('+') || s == "-0" || s.ends_with('\n') => {
            "offset with a sign or a newline"
        }
        LineError::BadDelimiter(_) => "delimiter other than ASCII punctuation",
        LineError::Length(n) if *n > 1920 && line.len() <= 1920 => {
            "canonical form (NixOS escapes) longer than 1920 bytes"
        }
        _ => return None,
    })
}

/// Kernel errors that say nothing about the line's form: with flag F the kernel opens the
/// interpreter while registering.
fn interpreter_open_error(line: &str, errno: &str) -> bool {
    matches!(errno, "ENOENT" | "EACCES" | "ENOEXEC") && {
        let d = line.chars().next().unwrap_or(':');
        line.trim_end_matches('\n')
            .rsplit(d)
            .next()
            .is_some_and(|f| f.contains('F'))
    }
}

#[derive(Default, Debug)]
struct Tally {
    cases: usize,
    both_accept: usize,
    both_refuse: usize,
    f_open_errors: usize,
    deliberate: BTreeMap<&'static str, usize>,
    kernel_errnos: BTreeMap<String, usize>,
}

#[test]
fn validator_agrees_with_the_kernel() {
    let cases = std::env::var("BINFMTCTL_PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3000);
    let tally = Mutex::new(Tally::default());
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&line_spec(), |spec| {
        let line = spec.render();
        let ours = line.parse::<Registration>();
        let verdict = kernel().lock().unwrap().register(line.as_bytes());
        let mut t = tally.lock().unwrap();
        t.cases += 1;
        if let Verdict::Refused(errno) = &verdict {
            *t.kernel_errnos.entry(errno.clone()).or_default() += 1;
        }
        match (&ours, &verdict) {
            (Ok(reg), Verdict::Accepted(entry)) => {
                t.both_accept += 1;
                // binfmtctl's model of the entry is the kernel's, for the line as given...
                prop_assert_eq!(&Entry::render(reg, true), entry, "entry of {:?}", line);
                // ...and for binfmtctl's own canonical line.
                let canonical = reg.to_string();
                drop(t);
                let again = kernel().lock().unwrap().register(canonical.as_bytes());
                prop_assert_eq!(
                    again,
                    Verdict::Accepted(Entry::render(reg, true)),
                    "canonical {:?}",
                    canonical
                );
            }
            (Ok(_), Verdict::Refused(errno)) if interpreter_open_error(&line, errno) => {
                t.f_open_errors += 1;
            }
            (Ok(_), Verdict::Refused(errno)) => {
                prop_assert!(
                    false,
                    "binfmtctl accepts {:?}, the kernel refuses it: {}",
                    line,
                    errno
                );
            }
            (Err(e), Verdict::Accepted(_)) => match deliberate(&line, e) {
                Some(why) => *t.deliberate.entry(why).or_default() += 1,
                None => prop_assert!(
                    false,
                    "the kernel accepts {:?}, binfmtctl refuses it: {}",
                    line,
                    e
                ),
            },
            (Err(_), Verdict::Refused(_)) => t.both_refuse += 1,
        }
        Ok(())
    });
    let t = tally.into_inner().unwrap();
    eprintln!("validator vs kernel: {t:#?}");
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(
        t.both_accept > cases as usize / 10 && t.both_refuse > cases as usize / 10,
        "{t:?}"
    );
}
