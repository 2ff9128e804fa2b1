//! The register line `:name:type:offset:magic:mask:interpreter:flags`: model, parser, formatter
//! and the kernel's validation rules (fs/binfmt_misc.c `create_entry`).

use std::fmt;
use std::str::FromStr;

use super::bytes::Bytes;

/// The most bytes `register` accepts in one write (`MAX_REGISTER_LENGTH`).
pub const MAX_REGISTER_LENGTH: usize = 1920;
/// The fewest bytes `register` accepts.
pub const MIN_REGISTER_LENGTH: usize = 11;
/// The kernel's header buffer (`BINPRM_BUF_SIZE`, 256 since Linux 5.1): `offset + len(magic)`
/// must fit in it.
pub const BINPRM_BUF_SIZE: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("the register line is {0} bytes; the kernel accepts {MIN_REGISTER_LENGTH} to {MAX_REGISTER_LENGTH}")]
    Length(usize),
    #[error("the register line has {0} fields separated by {1:?}; it needs 7 (:name:type:offset:magic:mask:interpreter:flags)")]
    FieldCount(usize, char),
    #[error("entry name {0:?} is not allowed: {1}")]
    Name(String, &'static str),
    #[error("type {0:?} is not M (magic) or E (extension)")]
    Type(String),
    #[error("offset {0:?} is not a non-negative decimal number")]
    Offset(String),
    #[error("the magic is empty")]
    EmptyMagic,
    #[error("mask is {mask} bytes but magic is {magic} bytes; they must be the same length")]
    MaskLength { magic: usize, mask: usize },
    #[error("offset {offset} + magic length {len} exceeds the kernel's {BINPRM_BUF_SIZE}-byte header buffer")]
    TooFar { offset: usize, len: usize },
    #[error("an extension entry must have an empty offset and mask, and an extension without '/'")]
    Extension,
    #[error("the interpreter path is empty")]
    EmptyInterpreter,
    #[error("the interpreter path {0:?} must be absolute")]
    RelativeInterpreter(String),
    #[error("{field} contains the delimiter {delim:?}, a newline or a NUL byte")]
    Delimiter { field: &'static str, delim: char },
    #[error("unknown flag {0:?}; the kernel accepts P, O, C and F")]
    Flag(char),
    #[error("{field} has the escape {escape:?}; the kernel needs exactly two hex digits after \\x (e.g. \\x0a)")]
    Escape { field: &'static str, escape: String },
    #[error("the delimiter {0:?} is not accepted here; start the line with ':' (binfmtctl takes ASCII punctuation)")]
    BadDelimiter(char),
}

/// The name of an entry: the file `/proc/sys/fs/binfmt_misc/<name>`.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct EntryName(String);

impl EntryName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for EntryName {
    type Err = LineError;
    fn from_str(s: &str) -> Result<Self, LineError> {
        let bad = |why| Err(LineError::Name(s.to_owned(), why));
        if s.is_empty() {
            return bad("it is empty");
        }
        if s.contains('/') {
            return bad("it contains '/'");
        }
        if matches!(s, "." | ".." | "register" | "status") {
            return bad("it is reserved by binfmt_misc");
        }
        if s.contains([':', '\n', '\0']) {
            return bad("it contains ':', a newline or a NUL byte");
        }
        if s.len() > 255 {
            return bad("it is longer than 255 bytes");
        }
        Ok(EntryName(s.to_owned()))
    }
}

impl TryFrom<String> for EntryName {
    type Error = LineError;
    fn try_from(s: String) -> Result<Self, LineError> {
        s.parse()
    }
}

impl From<EntryName> for String {
    fn from(n: EntryName) -> String {
        n.0
    }
}

impl fmt::Display for EntryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The special flags. `Display` writes them in the kernel's order: P O C F.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Flags {
    /// `P`: preserve argv[0].
    pub preserve_argv0: bool,
    /// `O`: pass an open file descriptor of the binary.
    pub open_binary: bool,
    /// `C`: compute credentials from the binary (setuid applies); implies `O`.
    pub credentials: bool,
    /// `F`: open the interpreter at registration time (works in chroots and containers).
    pub fix_binary: bool,
}

impl Flags {
    /// Parse strictly, as the kernel does for a register line: unknown letters are an error.
    pub fn parse_strict(s: &str) -> Result<Flags, LineError> {
        let mut f = Flags::default();
        for c in s.chars() {
            if !f.set(c) {
                return Err(LineError::Flag(c));
            }
        }
        Ok(f)
    }

    /// Parse leniently, as printed in an entry file: letters this version does not know are
    /// returned separately (newer kernels may add some).
    pub fn parse_lenient(s: &str) -> (Flags, String) {
        let mut f = Flags::default();
        let unknown = s.chars().filter(|&c| !f.set(c)).collect();
        (f, unknown)
    }

    fn set(&mut self, c: char) -> bool {
        match c {
            'P' => self.preserve_argv0 = true,
            'O' => self.open_binary = true,
            'C' => self.credentials = true,
            'F' => self.fix_binary = true,
            _ => return false,
        }
        true
    }

    /// The flags the kernel actually applies: `C` implies `O`.
    #[must_use]
    pub fn effective(self) -> Flags {
        Flags {
            open_binary: self.open_binary || self.credentials,
            ..self
        }
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (on, c) in [
            (self.preserve_argv0, 'P'),
            (self.open_binary, 'O'),
            (self.credentials, 'C'),
            (self.fix_binary, 'F'),
        ] {
            if on {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

impl FromStr for Flags {
    type Err = LineError;
    fn from_str(s: &str) -> Result<Self, LineError> {
        Flags::parse_strict(s)
    }
}

/// What an entry matches on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Matcher {
    /// `M`: bytes at an offset, compared under a mask (`None`: exact compare).
    Magic {
        offset: usize,
        magic: Bytes,
        mask: Option<Bytes>,
    },
    /// `E`: a file-name extension (without the dot).
    Extension(String),
}

impl Matcher {
    /// The kernel's rule: `((file[offset+j] ^ magic[j]) & mask[j]) == 0` for every j.
    pub fn matches_header(&self, header: &[u8]) -> bool {
        let Matcher::Magic {
            offset,
            magic,
            mask,
        } = self
        else {
            return false;
        };
        // Entry files are read from wherever --root points: never trust their numbers
        // (fuzzing found an offset near usize::MAX and a mask shorter than the magic).
        let Some(window) = offset
            .checked_add(magic.len())
            .and_then(|end| header.get(*offset..end))
        else {
            return false;
        };
        if mask.as_ref().is_some_and(|m| m.len() != magic.len()) {
            return false;
        }
        window.iter().enumerate().all(|(j, &b)| {
            let m = mask.as_ref().map_or(0xff, |mask| mask.0[j]);
            (b ^ magic.0[j]) & m == 0
        })
    }

    /// True when the two matchers accept exactly the same bytes at the same place: magic
    /// compared under the mask, so don't-care bytes may differ.
    pub fn same_as(&self, other: &Matcher) -> bool {
        match (self, other) {
            (
                Matcher::Magic {
                    offset: o1,
                    magic: g1,
                    mask: k1,
                },
                Matcher::Magic {
                    offset: o2,
                    magic: g2,
                    mask: k2,
                },
            ) => {
                let full = |k: &Option<Bytes>, n| k.clone().unwrap_or(Bytes(vec![0xff; n]));
                let (k1, k2) = (full(k1, g1.len()), full(k2, g2.len()));
                o1 == o2
                    && g1.len() == g2.len()
                    && k1 == k2
                    && g1.0.iter().zip(&k1.0).map(|(g, k)| g & k).eq(g2
                        .0
                        .iter()
                        .zip(&k2.0)
                        .map(|(g, k)| g & k))
            }
            (Matcher::Extension(a), Matcher::Extension(b)) => a == b,
            _ => false,
        }
    }
}

/// Whether an interpreter path, as text, can be registered and recorded: absolute, without
/// ':' or any control character (a newline in the config's interpreter went into the
/// register line and into Nix's settings as extra lines, issue 11 case 4), and short enough
/// for the kernel's register line. The one check of the text, for the command line, the
/// config and binfmt.d files alike; the file itself is checked by `emulator::interpreter::Interpreter::at`.
pub fn check_interpreter_text(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err("must be an absolute path".into());
    }
    if let Some(c) = path.chars().find(|c| *c == ':' || c.is_control()) {
        return Err(format!(
            "contains {c:?}, which the kernel's register line, binfmt.d files and Nix's settings would read as syntax; \
             use a path without ':' or control characters"
        ));
    }
    // The shortest line around it: `:n:E::x::<path>:`.
    let room = MAX_REGISTER_LENGTH - MIN_REGISTER_LENGTH;
    if path.len() > room {
        return Err(format!(
            "is {} bytes, more than the kernel's {MAX_REGISTER_LENGTH}-byte register line leaves for it ({room})",
            path.len()
        ));
    }
    Ok(())
}

/// One registration: everything a register line says.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Registration {
    pub name: EntryName,
    pub matcher: Matcher,
    pub interpreter: String,
    pub flags: Flags,
}

impl Registration {
    /// Check every rule the kernel applies to a register line, so a bad line is refused with
    /// a precise message before anything is written.
    pub fn validate(&self) -> Result<(), LineError> {
        let delim = ':';
        let check = |field: &'static str, s: &str| {
            if s.contains([delim, '\n', '\0']) {
                Err(LineError::Delimiter { field, delim })
            } else {
                Ok(())
            }
        };
        // The name was validated when the EntryName was made.
        match &self.matcher {
            Matcher::Magic {
                offset,
                magic,
                mask,
            } => {
                if magic.is_empty() {
                    return Err(LineError::EmptyMagic);
                }
                if let Some(mask) = mask {
                    if mask.len() != magic.len() {
                        return Err(LineError::MaskLength {
                            magic: magic.len(),
                            mask: mask.len(),
                        });
                    }
                }
                if offset
                    .checked_add(magic.len())
                    .is_none_or(|end| end > BINPRM_BUF_SIZE)
                {
                    return Err(LineError::TooFar {
                        offset: *offset,
                        len: magic.len(),
                    });
                }
            }
            Matcher::Extension(ext) => {
                if ext.is_empty() || ext.contains('/') {
                    return Err(LineError::Extension);
                }
                check("extension", ext)?;
            }
        }
        if self.interpreter.is_empty() {
            return Err(LineError::EmptyInterpreter);
        }
        if !self.interpreter.starts_with('/') {
            return Err(LineError::RelativeInterpreter(self.interpreter.clone()));
        }
        check("interpreter", &self.interpreter)?;
        let len = self.to_string().len();
        if !(MIN_REGISTER_LENGTH..=MAX_REGISTER_LENGTH).contains(&len) {
            return Err(LineError::Length(len));
        }
        Ok(())
    }

    /// Equal as far as the kernel's behaviour goes (don't-care magic bits ignored).
    pub fn same_effect(&self, other: &Registration) -> bool {
        self.name == other.name
            && self.interpreter == other.interpreter
            && self.flags.effective() == other.flags.effective()
            && self.matcher.same_as(&other.matcher)
    }
}

/// The register line, without a trailing newline.
impl fmt::Display for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.name;
        match &self.matcher {
            Matcher::Magic {
                offset,
                magic,
                mask,
            } => {
                let offset = if *offset == 0 {
                    String::new()
                } else {
                    offset.to_string()
                };
                let mask = mask.as_ref().map(ToString::to_string).unwrap_or_default();
                write!(f, ":{name}:M:{offset}:{magic}:{mask}:")?;
            }
            Matcher::Extension(ext) => write!(f, ":{name}:E::{ext}::")?,
        }
        write!(f, "{}:{}", self.interpreter, self.flags)
    }
}

/// Parse a register line (any delimiter, as the kernel allows; one trailing newline accepted)
/// and validate it.
impl FromStr for Registration {
    type Err = LineError;
    fn from_str(line: &str) -> Result<Self, LineError> {
        if !(MIN_REGISTER_LENGTH..=MAX_REGISTER_LENGTH).contains(&line.len()) {
            return Err(LineError::Length(line.len()));
        }
        let line = line.strip_suffix('\n').unwrap_or(line);
        let mut chars = line.chars();
        let delim = chars.next().ok_or(LineError::Length(0))?;
        // The kernel takes the first BYTE as the delimiter and gives `\x` escapes meaning
        // before it looks for the delimiter, so a letter, digit, control character or
        // multibyte character would parse differently there than when split here.
        if !delim.is_ascii_punctuation() {
            return Err(LineError::BadDelimiter(delim));
        }
        let fields: Vec<&str> = chars.as_str().split(delim).collect();
        if fields.len() != 7 {
            return Err(LineError::FieldCount(fields.len(), delim));
        }
        let name: EntryName = fields[0].parse()?;
        let matcher = match fields[1] {
            "M" => {
                let offset = match fields[2] {
                    "" => 0,
                    s if s.bytes().all(|b| b.is_ascii_digit()) => {
                        s.parse().map_err(|_| LineError::Offset(s.to_owned()))?
                    }
                    s => return Err(LineError::Offset(s.to_owned())),
                };
                let escaped = |field: &'static str, text: &str| {
                    Bytes::check_escapes(text)
                        .map_err(|escape| LineError::Escape { field, escape })?;
                    // The kernel's decoder stops at a NUL byte; the line would mean less there.
                    if text.contains('\0') {
                        return Err(LineError::Delimiter { field, delim });
                    }
                    Ok(Bytes::unescape(text))
                };
                let magic = escaped("magic", fields[3])?;
                let mask = if fields[4].is_empty() {
                    None
                } else {
                    Some(escaped("mask", fields[4])?)
                };
                Matcher::Magic {
                    offset,
                    magic,
                    mask,
                }
            }
            "E" => {
                if !fields[2].is_empty() || !fields[4].is_empty() {
                    return Err(LineError::Extension);
                }
                Matcher::Extension(fields[3].to_owned())
            }
            other => return Err(LineError::Type(other.to_owned())),
        };
        let reg = Registration {
            name,
            matcher,
            interpreter: fields[5].to_owned(),
            flags: Flags::parse_strict(fields[6])?,
        };
        reg.validate()?;
        Ok(reg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NIXOS_RISCV64: &str = r":riscv64-linux:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xf3\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/run/binfmt/riscv64-linux:PF";

    #[test]
    fn round_trips() {
        for line in [
            NIXOS_RISCV64,
            r":wasm32-wasi:M::\x00asm:\xff\xff\xff\xff:/run/binfmt/wasm32-wasi:P",
            ":DOSWin:M::MZ::/usr/bin/wine:",
            ":py:E::py::/usr/bin/python3:",
            r":off:M:10:\x01:\x01:/bin/x:POCF",
        ] {
            let reg: Registration = line.parse().unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(reg.to_string(), line);
        }
    }

    #[test]
    fn parses_fields() {
        let reg: Registration = NIXOS_RISCV64.parse().unwrap();
        assert_eq!(reg.name.as_str(), "riscv64-linux");
        assert_eq!(reg.interpreter, "/run/binfmt/riscv64-linux");
        assert!(reg.flags.preserve_argv0 && reg.flags.fix_binary);
        assert!(!reg.flags.open_binary && !reg.flags.credentials);
        let Matcher::Magic {
            offset,
            magic,
            mask,
        } = &reg.matcher
        else {
            panic!()
        };
        assert_eq!(*offset, 0);
        assert_eq!(magic.len(), 20);
        assert_eq!(mask.as_ref().unwrap().len(), 20);
    }

    #[test]
    fn other_delimiter_and_newline() {
        let reg: Registration = "|x|M||MZ||/bin/wine|F\n".parse().unwrap();
        assert_eq!(reg.to_string(), ":x:M::MZ::/bin/wine:F");
    }

    #[test]
    fn flags_order_and_parsing() {
        let f = Flags::parse_strict("FCOP").unwrap();
        assert_eq!(f.to_string(), "POCF");
        assert_eq!(Flags::parse_strict("PX"), Err(LineError::Flag('X')));
        let (f, unknown) = Flags::parse_lenient("PFZ");
        assert_eq!((f.to_string(), unknown.as_str()), ("PF".to_owned(), "Z"));
        let c = Flags::parse_strict("C").unwrap();
        assert!(c.effective().open_binary);
    }

    #[test]
    fn rejects_bad_lines() {
        let long = format!(":n:M::MZ::/{}:", "a".repeat(2000));
        let cases: &[(&str, LineError)] = &[
            (":a:M::M::/", LineError::Length(10)),
            (&long, LineError::Length(long.len())),
            (":n:M::MZ:/bin/x:F", LineError::FieldCount(6, ':')),
            (
                ":.:M::MZ::/bin/x:",
                LineError::Name(".".into(), "it is reserved by binfmt_misc"),
            ),
            (
                ":status:M::MZ::/bin/x:",
                LineError::Name("status".into(), "it is reserved by binfmt_misc"),
            ),
            (
                ":a/b:M::MZ::/bin/x:",
                LineError::Name("a/b".into(), "it contains '/'"),
            ),
            (
                "::M::MZ::/bin/x:",
                LineError::Name(String::new(), "it is empty"),
            ),
            (":n:X::MZ::/bin/x:", LineError::Type("X".into())),
            (":n:M:-1:MZ::/bin/x:", LineError::Offset("-1".into())),
            (":n:M:+1:MZ::/bin/x:", LineError::Offset("+1".into())),
            (":n:M:::\\xff:/bin/x:", LineError::EmptyMagic),
            (
                ":n:M::MZ:\\xff:/bin/x:",
                LineError::MaskLength { magic: 2, mask: 1 },
            ),
            (
                ":n:M:255:MZ::/bin/x:",
                LineError::TooFar {
                    offset: 255,
                    len: 2,
                },
            ),
            (":n:E:1:py::/bin/x:", LineError::Extension),
            (":n:E::a/b::/bin/x:", LineError::Extension),
            (":n:M::MZ:::F", LineError::EmptyInterpreter),
            (
                ":n:M::MZ::bin/x:F",
                LineError::RelativeInterpreter("bin/x".into()),
            ),
            (":n:M::MZ::/bin/x:PQ", LineError::Flag('Q')),
            (
                r":n:M::\x7g::/bin/x:",
                LineError::Escape {
                    field: "magic",
                    escape: r"\x7g".into(),
                },
            ),
            (
                r":n:M::MZ:\xf:/bin/x:",
                LineError::Escape {
                    field: "mask",
                    escape: r"\xf".into(),
                },
            ),
            (
                ":n:M::M\0Z::/bin/x:",
                LineError::Delimiter {
                    field: "magic",
                    delim: ':',
                },
            ),
            ("xnxMxxMZxx/bin/shx", LineError::BadDelimiter('x')),
            (
                "\u{e9}n\u{e9}M\u{e9}\u{e9}MZ\u{e9}\u{e9}/bin/sh\u{e9}",
                LineError::BadDelimiter('\u{e9}'),
            ),
        ];
        for (line, want) in cases {
            assert_eq!(line.parse::<Registration>().as_ref(), Err(want), "{line}");
        }
    }

    #[test]
    fn matching_follows_the_kernel_rule() {
        let reg: Registration = NIXOS_RISCV64.parse().unwrap();
        let mut header = Bytes::unescape(
            r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xf3\x00",
        )
        .0;
        assert!(reg.matcher.matches_header(&header));
        header[16] = 3; // ET_DYN: PIE
        assert!(reg.matcher.matches_header(&header));
        header[7] = 9; // OSABI is a don't-care byte
        assert!(reg.matcher.matches_header(&header));
        header[18] = 0xb7; // aarch64
        assert!(!reg.matcher.matches_header(&header));
        assert!(!reg.matcher.matches_header(&header[..10]));
    }

    #[test]
    fn matching_survives_numbers_no_kernel_prints() {
        // Entry files may come from anywhere --root points; fuzzing found both.
        let short_mask = Matcher::Magic {
            offset: 0,
            magic: Bytes(b"MZ".to_vec()),
            mask: Some(Bytes(vec![0xff])),
        };
        assert!(!short_mask.matches_header(b"MZ"));
        let far = Matcher::Magic {
            offset: usize::MAX,
            magic: Bytes(b"MZ".to_vec()),
            mask: None,
        };
        assert!(!far.matches_header(b"MZ"));
    }

    #[test]
    fn same_as_ignores_dont_care_bytes() {
        let a: Registration = NIXOS_RISCV64.parse().unwrap();
        let mut b = a.clone();
        if let Matcher::Magic { magic, .. } = &mut b.matcher {
            magic.0[7] = 0x55; // masked out by 00
        }
        assert!(a.same_effect(&b));
        if let Matcher::Magic { magic, .. } = &mut b.matcher {
            magic.0[18] = 0xb7;
        }
        assert!(!a.same_effect(&b));
    }
}
