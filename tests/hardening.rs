//! Hardening (issue 7): malformed input of every kind, concurrency, and the security rules.
//! Everything that touches a kernel table runs in a private binfmt_misc instance; the host-
//! table rules are exercised against a fake `--root` directory, so no test writes to the
//! host's table.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::process::Command;
use std::time::Instant;

use binfmtctl::store::config::Config;
use common::{fake_root, host, ok, private, scratch, stderr, stdout, As, BIN};

const QEMU: &str = "/usr/bin/qemu-riscv64-static";

/// One malformed input: what is wrong, shell set-up (run before the "before" snapshot), the
/// command, and a part of the error message that names the problem.
struct Bad {
    what: &'static str,
    setup: String,
    command: String,
    says: String,
}

fn bad(what: &'static str, setup: &str, command: &str, says: &str) -> Bad {
    Bad {
        what,
        setup: setup.to_owned(),
        command: command.to_owned(),
        says: says.to_owned(),
    }
}

/// A config with one record whose lines are `body`.
fn config(body: &str) -> String {
    format!("cat > \"$T/config.toml\" <<'EOF'\n{body}\nEOF")
}

/// A local profile file with the given TOML.
fn profile(body: &str) -> String {
    format!("cat > \"$T/profiles.d/x.toml\" <<'EOF'\n{body}\nEOF")
}

/// A binfmt.d file holding `line`.
fn binfmtd(line: &str) -> String {
    format!("printf '%s\\n' '{line}' > \"$T/x.conf\"")
}

const RECORD: &str = "[[system]]\nsystem = \"riscv64-linux\"\nname = \"riscv64-linux\"\ninterpreter = \"/usr/bin/qemu-riscv64-static\"\n";
const GOOD_PROFILE: &str = "system = 'x-linux'\ndescription = 'd'\ninterpreters = ['q']\n";
const RV_MAGIC: &str = r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xf3\x00";
const RV_MASK: &str =
    r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff";

fn cases() -> Vec<Bad> {
    let long_name = "n".repeat(300);
    let long_line = format!(":n:M::MZ::/{}:", "a".repeat(2000));
    let imp = "bfc import \"$T/x.conf\"";
    let prof = "bfc --profiles \"$T/profiles.d\" enable riscv64-linux";
    vec![
        // Entry names.
        bad("name with /", "", "bfc enable riscv64-linux --name a/b", "--name: entry name \"a/b\" is not allowed: it contains '/'"),
        bad("empty name", "", "bfc enable riscv64-linux --name ''", "entry name \"\" is not allowed: it is empty"),
        bad("name .", "", "bfc enable riscv64-linux --name .", "entry name \".\" is not allowed: it is reserved by binfmt_misc"),
        bad("name ..", "", "bfc enable riscv64-linux --name ..", "entry name \"..\" is not allowed: it is reserved by binfmt_misc"),
        bad("name register", "", "bfc enable riscv64-linux --name register", "entry name \"register\" is not allowed: it is reserved"),
        bad("name status", "", "bfc enable riscv64-linux --name status", "entry name \"status\" is not allowed: it is reserved"),
        bad("name with a newline", "", "bfc enable riscv64-linux --name \"$(printf 'a\\nb')\"", "entry name \"a\\nb\" is not allowed: it contains ':', a newline or a NUL byte"),
        bad("name with :", "", "bfc enable riscv64-linux --name a:b", "entry name \"a:b\" is not allowed: it contains ':'"),
        bad("name of 300 bytes", "", &format!("bfc enable riscv64-linux --name {long_name}"), "is not allowed: it is longer than 255 bytes"),
        bad("disable --name with /", "", "bfc disable --name a/b", "--name a/b: entry name \"a/b\" is not allowed: it contains '/'"),
        bad("a name held by another tool", "", "bfc enable riscv64-linux --name foreign", "entry foreign (interpreter /bin/sh, flags \"\") exists and was not created by binfmtctl (owner unknown); leave it, register beside it with --name foreign-binfmtctl, or replace it with --force"),
        // Systems and aliases.
        bad("unknown system", "", "bfc enable riscv65", "unknown system \"riscv65\" (did you mean riscv64, riscv32, riscv64-linux?); `binfmtctl systems` lists them all"),
        bad("unknown OCI platform", "", "bfc enable linux/arm/v9", "unknown system \"linux/arm/v9\" (did you mean linux/arm/v5, linux/arm/v6, linux/arm/v7?)"),
        bad("empty system", "", "bfc enable ''", "unknown system \"\""),
        bad("system with a trailing space", "", "bfc enable 'riscv64 '", "unknown system \"riscv64 \""),
        bad("disable an unknown system", "", "bfc disable nosuch-linux", "unknown system \"nosuch-linux\""),
        bad("check an unknown system", "", "bfc check nosuch", "unknown system \"nosuch\"; `binfmtctl systems` lists them all"),
        bad("run with an unknown system", "", "bfc run --system nosuch /bin/true", "unknown system \"nosuch\""),
        bad("the host's own system", "", "bfc enable x86_64-linux", "x86_64-linux runs natively on this host (x86_64); registering it would send its programs through the emulator"),
        // Paths.
        bad("missing interpreter", "", "bfc enable riscv64-linux --interpreter /nonexistent/qemu", "interpreter /nonexistent/qemu does not exist; give the path of an installed emulator"),
        bad("interpreter not executable", "", "bfc enable riscv64-linux --interpreter /etc/passwd", "interpreter /etc/passwd is not an executable file"),
        bad("interpreter is a directory", "", "bfc enable riscv64-linux --interpreter /tmp", "interpreter /tmp is not an executable file"),
        bad("relative interpreter that does not exist", "", "bfc enable riscv64-linux --interpreter qemu-nope", "/qemu-nope does not exist"),
        bad("interpreter path with :", &format!("cp {QEMU} \"$T/q:emu\""), "bfc enable riscv64-linux --interpreter \"$T/q:emu\"", "cannot register riscv64-linux: interpreter contains the delimiter ':'"),
        bad("interpreter path with a newline", &format!("cp {QEMU} \"$T/q\nemu\""), "bfc enable riscv64-linux --interpreter \"$T/q\nemu\"", "cannot register riscv64-linux: interpreter contains the delimiter ':', a newline or a NUL byte"),
        bad("program to run is missing", "", "bfc run /nonexistent", "cannot read /nonexistent: No such file or directory"),
        bad("program to run is no ELF file", "", "bfc run /etc/passwd", "/etc/passwd: not an ELF file (nor a #! script)"),
        bad("binfmt.d file missing", "", "bfc import /nonexistent.conf", "cannot read /nonexistent.conf: No such file or directory"),
        bad("config is a directory", "mkdir \"$T/cdir\"", "\"$B\" --config \"$T/cdir\" --state-dir \"$T/state\" apply", "/cdir: it is a directory, not a regular file; give binfmtctl the path of a regular file"),
        bad("binfmt_misc root does not exist", "", "bfc --root /nonexistent enable riscv64-linux", "cannot mount binfmt_misc at /nonexistent: ENOENT: No such file or directory; the mount point does not exist"),
        bad("profiles directory is a file", "", "bfc --profiles /etc/passwd systems", "refusing /etc/passwd: it is a regular file, not a directory; give binfmtctl the path of a directory"),
        bad("profiles directory does not exist", "", "bfc --profiles /nonexistent/profiles.d systems", "--profiles /nonexistent/profiles.d: no such directory; give a directory of *.toml profiles"),
        // Flags (in the config: the command line only has --credentials/--open-binary).
        bad("unknown flag in the config", &config(&format!("{RECORD}flags = \"PQ\"")), "bfc apply", "config.toml:5: unknown flag 'Q'; the kernel accepts P, O, C and F; fix the file or remove the entry"),
        bad("lower-case flag in the config", &config(&format!("{RECORD}flags = \"f\"")), "bfc enable arm64", "config.toml:5: unknown flag 'f'"),
        // Magic and mask, in binfmt.d lines and profiles.
        bad("mask shorter than magic", &binfmtd(r":n:M::MZ:\xff:/bin/x:"), imp, "x.conf:1: mask is 1 bytes but magic is 2 bytes; they must be the same length"),
        bad("bad \\x escape", &binfmtd(r":n:M::\x7g::/bin/x:"), imp, "x.conf:1: magic has the escape \"\\\\x7g\"; the kernel needs exactly two hex digits after \\x"),
        bad("magic past the header buffer", &binfmtd(":n:M:255:MZ::/bin/x:"), imp, "x.conf:1: offset 255 + magic length 2 exceeds the kernel's 256-byte header buffer"),
        bad("empty magic", &binfmtd(r":n:M:::\xff:/bin/x:"), imp, "x.conf:1: the magic is empty"),
        bad("unknown type", &binfmtd(":n:Q::MZ::/bin/x:"), imp, "x.conf:1: type \"Q\" is not M (magic) or E (extension)"),
        bad("extension with an offset", &binfmtd(":n:E:1:py::/bin/x:"), imp, "x.conf:1: an extension entry must have an empty offset and mask"),
        bad("negative offset", &binfmtd(":n:M:-1:MZ::/bin/x:"), imp, "x.conf:1: offset \"-1\" is not a non-negative decimal number"),
        bad("relative interpreter in binfmt.d", &binfmtd(":n:M::MZ::bin/x:"), imp, "x.conf:1: the interpreter path \"bin/x\" must be absolute"),
        bad("unknown flag in binfmt.d", &binfmtd(":n:M::MZ::/bin/x:PX"), imp, "x.conf:1: unknown flag 'X'"),
        bad("six fields", &binfmtd(":n:M::MZ::/bin/x"), imp, "x.conf:1: the register line has 6 fields separated by ':'; it needs 7"),
        bad("line over 1920 bytes", &binfmtd(&long_line), imp, "x.conf:1: the register line is 2012 bytes; the kernel accepts 11 to 1920"),
        bad("name with / in binfmt.d", &binfmtd(":a/b:M::MZ::/bin/x:"), imp, "x.conf:1: entry name \"a/b\" is not allowed: it contains '/'"),
        bad("letter as delimiter", &binfmtd("xnxMxxMZxx/bin/shx"), imp, "x.conf:1: the delimiter 'x' is not accepted here"),
        bad("a good line, then a bad one", &format!("printf '%s\\n' ':riscv64-linux:M::{RV_MAGIC}:{RV_MASK}:{QEMU}:F' ':b:M::MZ::/bin/x:Z' > \"$T/x.conf\""), imp, "x.conf:2: unknown flag 'Z'"),
        bad("profile mask shorter than magic", &profile(&format!("{GOOD_PROFILE}magic = '\\x7fELF'\nmask = '\\xff'")), prof, "x.toml: magic is 4 bytes and mask 1 bytes; both must be non-empty and of the same length; fix the file or remove it"),
        bad("profile magic past 256 bytes", &profile(&format!("{GOOD_PROFILE}offset = 250\nmagic = '{RV_MAGIC}'\nmask = '{RV_MASK}'")), prof, "x.toml: offset 250 + magic length 20 exceeds 256 bytes"),
        bad("profile with an empty magic", &profile(&format!("{GOOD_PROFILE}magic = ''\nmask = ''")), prof, "both must be non-empty"),
        // Config files.
        bad("config is not TOML", &config("nonsense"), "bfc apply", "config.toml:1: expected `.`, `=`; fix the file or remove the entry"),
        bad("config with an unknown field", &config(&format!("colour = 1\n{RECORD}flags = \"F\"")), "bfc apply", "config.toml:1: unknown field `colour`"),
        bad("config with a duplicate name", &config(&format!("{RECORD}flags = \"F\"\n{RECORD}flags = \"PF\"")), "bfc apply", "config.toml: entry name riscv64-linux appears twice; remove one of the [[system]] tables"),
        bad("config with a relative interpreter", &config("[[system]]\nsystem = \"riscv64-linux\"\nname = \"r\"\ninterpreter = \"qemu\"\nflags = \"\""), "bfc apply", "config.toml: interpreter \"qemu\" of r must be an absolute path"),
        bad("config with an unknown system", &config("[[system]]\nsystem = \"nosuch-linux\"\nname = \"r\"\ninterpreter = \"/q\"\nflags = \"\""), "bfc apply", "config.toml: entry r: unknown system \"nosuch-linux\""),
        bad("config missing a field", &config("[[system]]\nsystem = \"riscv64-linux\"\nname = \"r\""), "bfc disable --all", "config.toml:1: missing field `interpreter`"),
        bad("config with a bad name", &config("[[system]]\nsystem = \"riscv64-linux\"\nname = \"..\"\ninterpreter = \"/q\"\nflags = \"\""), "bfc enable arm64", "config.toml:3: entry name \"..\" is not allowed: it is reserved by binfmt_misc"),
        // Profile files.
        bad("profile with an unknown field", &profile("system = 'x-linux'\nbogus = 1"), prof, "x.toml: line 2: unknown field `bogus`"),
        bad("profile reusing a built-in alias", &profile(&format!("{GOOD_PROFILE}aliases = ['arm64']\nmagic = 'MZ'\nmask = '\\xff\\xff'")), prof, "the name \"arm64\" is already used by builtin:aarch64-linux.toml; names and aliases must be unique"),
        bad("profile without interpreters", &profile("system = 'x-linux'\ndescription = 'd'\ninterpreters = []\nmagic = 'MZ'\nmask = '\\xff\\xff'"), prof, "interpreters is empty; name at least one program"),
        bad("profile interpreter with /", &profile("system = 'x-linux'\ndescription = 'd'\ninterpreters = ['/usr/bin/q']\nmagic = 'MZ'\nmask = '\\xff\\xff'"), prof, "interpreter name \"/usr/bin/q\" must be a bare program name"),
        bad("profile system with /", &profile("system = 'x/linux'\ndescription = 'd'\ninterpreters = ['q']\nmagic = 'MZ'\nmask = '\\xff\\xff'"), prof, "system: entry name \"x/linux\" is not allowed: it contains '/'"),
        // Command-line arguments.
        bad("unknown command", "", "bfc frobnicate", "unrecognized subcommand 'frobnicate'"),
        bad("enable without a system", "", "bfc enable", "the following required arguments were not provided"),
        bad("unknown export format", "", "bfc export --format bogus", "invalid value 'bogus' for '--format <FORMAT>'"),
        bad("--name with two systems", "", "bfc enable riscv64 arm64 --name x", "--name x applies to one system; for several, make it a template"),
        bad("--runtime with --nix", "", "bfc enable riscv64 --runtime --nix", "the argument '--runtime' cannot be used with '--nix'"),
        bad("disable --all with systems", "", "bfc disable riscv64 --all", "cannot be used with"),
        bad("unknown option", "", "bfc enable riscv64 --flags PF", "unexpected argument '--flags' found"),
    ]
}

/// A record of the config with `interpreter` (TOML text between the quotes) and flags.
fn record(interpreter: &str, flags: &str) -> String {
    config(&format!("[[system]]\nsystem = \"riscv64-linux\"\nname = \"riscv64-linux\"\ninterpreter = \"{interpreter}\"\nflags = \"{flags}\""))
}

/// The trust boundary's bad inputs (issue 11): file types, sizes, links, config records
/// validated like the command line, entries capturing the host's programs.
#[allow(clippy::too_many_lines)] // a table: one case a line
fn trust_cases() -> Vec<Bad> {
    let imp = "bfc import \"$T/x.conf\"";
    let prof = |system: &str| format!("bfc --profiles \"$T/profiles.d\" enable {system}");
    let fifo = |name: &str| format!("rm -f \"$T/{name}\"; mkfifo \"$T/{name}\"");
    let with = |option: &str, path: &str, command: &str| {
        format!("\"$B\" --config \"$T/config.toml\" --state-dir \"$T/state\" {option} \"{path}\" {command}")
    };
    let state = |path: &str, command: &str| {
        format!("\"$B\" --config \"$T/config.toml\" --state-dir \"{path}\" {command}")
    };
    let cfg = |path: &str, command: &str| {
        format!("\"$B\" --config \"{path}\" --state-dir \"$T/state\" {command}")
    };
    let is_fifo = "it is a FIFO (named pipe), not a regular file";
    let is_char = "it is a character device, not a regular file";
    let big = |path: &str| format!("head -c 2000000 /dev/zero | tr '\\0' '#' > \"{path}\"");
    let not_utf8 = |path: &str| format!("printf '\\377\\376\\n' > \"{path}\"");
    let capture_profile = |magic: &str, mask: &str| {
        profile(&format!("system = 'cap-linux'\ndescription = 'd'\ninterpreters = ['qemu-riscv64-static']\nmagic = '{magic}'\nmask = '{mask}'"))
    };
    let own = "accept this host's own";
    vec![
        // Config records, validated like the command line (case 4) and flag C (case 8).
        bad("config interpreter with a newline", &record("/usr/bin/qemu\\ntrusted-users = *", "PF"), "bfc apply", "interpreter \"/usr/bin/qemu\\ntrusted-users = *\" of riscv64-linux contains '\\n'"),
        bad("config interpreter with a tab", &record("/usr/bin/q\\temu", "PF"), "bfc apply", "contains '\\t'"),
        bad("config interpreter with a carriage return", &record("/usr/bin/q\\remu", "PF"), "bfc apply", "contains '\\r'"),
        bad("config interpreter with DEL", &record("/usr/bin/q\\u007femu", "PF"), "bfc apply", "contains '\\u{7f}'"),
        bad("config interpreter with a NUL", &record("/usr/bin/q\\u0000emu", "PF"), "bfc apply", "contains '\\0'"),
        bad("config interpreter with :", &record("/usr/bin/q:emu", "PF"), "bfc apply", "contains ':'"),
        bad("config interpreter of 1950 bytes", &record(&format!("/{}", "q".repeat(1949)), "PF"), "bfc apply", "is 1950 bytes, more than the kernel's 1920-byte register line leaves for it"),
        bad("config interpreter that is empty", &record("", "PF"), "bfc apply", "interpreter \"\" of riscv64-linux must be an absolute path"),
        bad("config interpreter with a newline, read by disable", &record("/q\\n", "PF"), "bfc disable --all", "contains '\\n'"),
        bad("config interpreter with a newline, read by enable", &record("/q\\n", "PF"), "bfc enable arm64", "contains '\\n'"),
        bad("config interpreter with a newline, read by export", &record("/q\\n", "PF"), "bfc export", "contains '\\n'"),
        bad("config with flag C and no credentials key", &record(QEMU, "PCF"), "bfc apply", "entry riscv64-linux has flag C, which binfmtctl records only with `credentials = true`"),
        bad("config with flag C only", &record(QEMU, "C"), "bfc enable arm64", "add `credentials = true` to the record"),
        bad("config with credentials = \"yes\"", &config(&format!("{RECORD}flags = \"PCF\"\ncredentials = \"yes\"")), "bfc apply", "config.toml:6: invalid type: string \"yes\", expected a boolean"),
        bad("config with a misspelt credentials key", &config(&format!("{RECORD}flags = \"PCF\"\ncredential = true")), "bfc apply", "config.toml:6: unknown field `credential`"),
        bad("config with nix = \"yes\"", &config(&format!("nix = \"yes\"\n{RECORD}flags = \"PF\"")), "bfc apply", "config.toml:1: invalid type: string \"yes\", expected a boolean"),
        bad("config with forced_interpreters a string", &config(&format!("forced_interpreters = \"/q\"\n{RECORD}flags = \"PF\"")), "bfc apply", "config.toml:1: invalid type: string \"/q\", expected a sequence"),
        bad("config with a number as system", &config("[[system]]\nsystem = 5\nname = \"r\"\ninterpreter = \"/q\"\nflags = \"\""), "bfc apply", "config.toml:2: invalid type: integer `5`, expected a string"),
        bad("config with a key twice", &config(&format!("{RECORD}flags = \"PF\"\nflags = \"F\"")), "bfc apply", "config.toml:6: duplicate key"),
        bad("config with the name status", &config("[[system]]\nsystem = \"riscv64-linux\"\nname = \"status\"\ninterpreter = \"/q\"\nflags = \"\""), "bfc apply", "entry name \"status\" is not allowed: it is reserved"),
        bad("config interpreter that is a directory", &record("/tmp", "P"), "bfc apply", "refused riscv64-linux: its interpreter /tmp is not an executable file"),
        bad("config interpreter that is not executable", &record("/etc/passwd", "P"), "bfc apply", "its interpreter /etc/passwd is not an executable file"),
        bad("config interpreter that is a device", &record("/dev/null", "P"), "bfc apply", "its interpreter /dev/null is not an executable file"),
        bad("config record for the host's own system", &config("[[system]]\nsystem = \"riscv64-linux\"\nname = \"riscv64-linux\"\ninterpreter = \"/usr/bin/qemu-riscv64-static\"\nflags = \"PF\"\n[[system]]\nsystem = \"x86_64-linux\"\nname = \"x86_64-linux\"\ninterpreter = \"/usr/bin/qemu-x86_64-static\"\nflags = \"PF\""), "bfc apply", "refused x86_64-linux: x86_64-linux runs natively on this host"),
        // The config file itself (case 6).
        bad("config that is not UTF-8", &not_utf8("$T/config.toml"), "bfc apply", "it is not UTF-8 text; fix the file or remove it"),
        bad("config of 2 MB", &big("$T/config.toml"), "bfc apply", "config.toml: it is larger than 1048576 bytes"),
        bad("config that is a FIFO (apply)", &fifo("f.toml"), &cfg("$T/f.toml", "apply"), is_fifo),
        bad("config that is a FIFO (enable)", &fifo("f.toml"), &cfg("$T/f.toml", "enable riscv64-linux"), is_fifo),
        bad("config that is a FIFO (disable)", &fifo("f.toml"), &cfg("$T/f.toml", "disable riscv64-linux"), is_fifo),
        bad("config that is a FIFO (export)", &fifo("f.toml"), &cfg("$T/f.toml", "export"), is_fifo),
        bad("config that is a FIFO (status)", &fifo("f.toml"), &cfg("$T/f.toml", "status"), is_fifo),
        bad("config that is a FIFO (nix-config)", &fifo("f.toml"), &cfg("$T/f.toml", "nix-config"), is_fifo),
        bad("config that is a FIFO (import)", &format!("{}\n{}", fifo("f.toml"), binfmtd(&format!(":riscv64-linux:M::{RV_MAGIC}:{RV_MASK}:{QEMU}:F"))), &format!("{} \"$T/x.conf\"", cfg("$T/f.toml", "import")), is_fifo),
        bad("config that is /dev/null (enable)", "", &cfg("/dev/null", "enable riscv64-linux"), is_char),
        bad("config that is /dev/null (disable)", "", &cfg("/dev/null", "disable --all"), is_char),
        bad("config that is /dev/zero (apply)", "", &cfg("/dev/zero", "apply"), is_char),
        bad("config that is /dev/zero (export)", "", &cfg("/dev/zero", "export"), is_char),
        bad("config that is a link to /dev/zero", "ln -sf /dev/zero \"$T/z.toml\"", &cfg("$T/z.toml", "apply"), is_char),
        bad("config that is a symlink loop", "ln -sfn l2.toml \"$T/l1.toml\"; ln -sfn l1.toml \"$T/l2.toml\"", &cfg("$T/l1.toml", "apply"), "l1.toml leads through more than 40 symlinks; fix the link"),
        // The state directory.
        bad("state directory that is a file", "", &state("/etc/passwd", "enable riscv64-linux"), "refusing /etc/passwd: it is a regular file, not a directory"),
        bad("state directory that is a FIFO", &fifo("sfifo"), &state("$T/sfifo", "apply"), "sfifo: it is a FIFO (named pipe), not a directory"),
        bad("state directory that is a symlink", "ln -sfn \"$T/state\" \"$T/slink\"", &state("$T/slink", "apply"), "slink is a symlink; binfmtctl writes its files only into a real directory"),
        bad("state file that is a FIFO", "mkdir -p \"$T/s2\"; rm -f \"$T/s2/state.json\"; mkfifo \"$T/s2/state.json\"", &state("$T/s2", "apply"), is_fifo),
        bad("state file of 2 MB", &format!("mkdir -p \"$T/s3\"; {}", big("$T/s3/state.json")), &state("$T/s3", "apply"), "state.json: it is larger than 1048576 bytes"),
        // The table's root.
        bad("--root that is a file", "", "bfc --root /etc/passwd apply", "refusing /etc/passwd: it is a regular file, not a directory"),
        bad("--root that is a FIFO", &fifo("rfifo"), "bfc --root \"$T/rfifo\" enable riscv64-linux", "rfifo: it is a FIFO (named pipe), not a directory"),
        // nix.conf and Nix's settings file.
        bad("nix.conf that is a FIFO", &fifo("nix.conf"), &with("--nix-conf", "$T/nix.conf", "enable arm64 --nix"), is_fifo),
        bad("nix.conf that is /dev/null", "", &with("--nix-conf", "/dev/null", "enable arm64 --nix"), is_char),
        bad("nix.conf that is a directory", "mkdir -p \"$T/nixdir\"", &with("--nix-conf", "$T/nixdir", "enable arm64 --nix"), "nixdir: it is a directory, not a regular file"),
        bad("Nix settings file that is a FIFO", &format!("mkdir -p \"$T/nix\"; {}", fifo("nix/binfmtctl.conf")), &with("--nix-conf", "$T/nix/nix.conf", "enable arm64 --nix"), is_fifo),
        bad("nix.conf of 2 MB", &big("$T/big-nix.conf"), &with("--nix-conf", "$T/big-nix.conf", "enable arm64 --nix"), "big-nix.conf: it is larger than 1048576 bytes"),
        bad("nix.conf that is a FIFO, at apply", &format!("{}\n{}", fifo("nix2.conf"), config(&format!("nix = true\n{RECORD}flags = \"PF\""))), &with("--nix-conf", "$T/nix2.conf", "apply"), is_fifo),
        // Profiles (case 5 and 6).
        bad("profile capturing ELF programs", &capture_profile("\\x7fELF", "\\xff\\xff\\xff\\xff"), &prof("cap-linux"), own),
        bad("profile capturing every program", &capture_profile("\\x00", "\\x00"), &prof("cap-linux"), own),
        bad("profile capturing every program, --force", &capture_profile("\\x00", "\\x00"), &format!("{} --force", prof("cap-linux")), own),
        bad("profile capturing every program, --dry-run", &capture_profile("\\x00", "\\x00"), &format!("{} --dry-run", prof("cap-linux")), own),
        bad("profile capturing every program, at apply", &format!("{}\n{}", capture_profile("\\x00", "\\x00"), config("[[system]]\nsystem = \"riscv64-linux\"\nname = \"riscv64-linux\"\ninterpreter = \"/usr/bin/qemu-riscv64-static\"\nflags = \"PF\"\n[[system]]\nsystem = \"cap-linux\"\nname = \"cap-linux\"\ninterpreter = \"/usr/bin/qemu-riscv64-static\"\nflags = \"PF\"")), "bfc --profiles \"$T/profiles.d\" apply", own),
        bad("profile that is a FIFO (enable)", &fifo("profiles.d/x.toml"), &prof("riscv64-linux"), is_fifo),
        bad("profile that is a FIFO (systems)", &fifo("profiles.d/x.toml"), "bfc --profiles \"$T/profiles.d\" systems", is_fifo),
        bad("profile that is a FIFO (run)", &fifo("profiles.d/x.toml"), "bfc --profiles \"$T/profiles.d\" run /bin/true", is_fifo),
        bad("profile that is a link to /dev/zero", "ln -sf /dev/zero \"$T/profiles.d/z.toml\"", &prof("riscv64-linux"), is_char),
        bad("profile that is not UTF-8", &not_utf8("$T/profiles.d/x.toml"), &prof("riscv64-linux"), "x.toml: it is not UTF-8 text"),
        bad("profile of 2 MB", &big("$T/profiles.d/x.toml"), &prof("riscv64-linux"), "x.toml: it is larger than 1048576 bytes"),
        bad("profile with a negative offset", &profile(&format!("{GOOD_PROFILE}offset = -1\nmagic = 'MZ'\nmask = '\\xff\\xff'")), &prof("riscv64-linux"), "x.toml: line 4: invalid value: integer `-1`"),
        bad("profile without a description", &profile("system = 'x-linux'\ninterpreters = ['q']\nmagic = 'MZ'\nmask = '\\xff\\xff'"), &prof("riscv64-linux"), "missing field `description`"),
        bad("profile interpreter empty", &profile("system = 'x-linux'\ndescription = 'd'\ninterpreters = ['']\nmagic = 'MZ'\nmask = '\\xff\\xff'"), &prof("riscv64-linux"), "interpreter name \"\" must be a bare program name"),
        bad("profile interpreter with :", &profile("system = 'x-linux'\ndescription = 'd'\ninterpreters = ['q:x']\nmagic = 'MZ'\nmask = '\\xff\\xff'"), &prof("riscv64-linux"), "interpreter name \"q:x\" must be a bare program name"),
        bad("profile system empty", &profile("system = ''\ndescription = 'd'\ninterpreters = ['q']\nmagic = 'MZ'\nmask = '\\xff\\xff'"), &prof("riscv64-linux"), "system: entry name \"\" is not allowed: it is empty"),
        bad("profiles directory that is a FIFO", &fifo("pfifo"), "bfc --profiles \"$T/pfifo\" systems", "pfifo: it is a FIFO (named pipe), not a directory"),
        // Import files (cases 5 and 6).
        bad("import file that is a FIFO", &fifo("f.conf"), "bfc import \"$T/f.conf\"", is_fifo),
        bad("import file that is a FIFO, --dry-run", &fifo("f.conf"), "bfc import --dry-run \"$T/f.conf\"", is_fifo),
        bad("import file that is /dev/zero", "", "bfc import /dev/zero", is_char),
        bad("import directory holding a FIFO", &format!("mkdir -p \"$T/bd\"; {}", fifo("bd/q.conf")), "bfc import \"$T/bd\"", is_fifo),
        bad("import file of 2 MB", &big("$T/x.conf"), imp, "x.conf: it is larger than 1048576 bytes"),
        bad("import file that is not UTF-8", &not_utf8("$T/x.conf"), imp, "x.conf: it is not UTF-8 text"),
        bad("import file that is empty", ": > \"$T/x.conf\"", imp, "no registrations found in"),
        bad("import line capturing ELF programs", &binfmtd(&format!(":cap:M::\\x7fELF:\\xff\\xff\\xff\\xff:{QEMU}:F")), imp, own),
        bad("import line capturing every program", &binfmtd(&format!(":cap:M::\\x00:\\x00:{QEMU}:F")), imp, own),
        bad("import line with a tab in the interpreter", &format!("printf ':riscv64-linux:M::{RV_MAGIC}:{RV_MASK}:/usr/bin/q\\temu:F\\n' > \"$T/x.conf\""), imp, "contains '\\t'"),
        // Command-line values (case 4 on the command line, case 6).
        bad("--interpreter with a tab", &format!("cp {QEMU} \"$T/q\temu\""), "bfc enable riscv64-linux --interpreter \"$T/q\temu\"", "contains '\\t'"),
        bad("--interpreter that is a FIFO", &fifo("qfifo"), "bfc enable riscv64-linux --interpreter \"$T/qfifo\"", "qfifo is not an executable file"),
        bad("--interpreter /dev/null", "", "bfc enable riscv64-linux --interpreter /dev/null", "interpreter /dev/null is not an executable file"),
        bad("install-unit into a FIFO", &fifo("ufifo"), "bfc install-unit --no-enable --unit-dir \"$T/ufifo\"", "ufifo: it is a FIFO (named pipe), not a directory"),
        bad("install-unit into /dev/null", "", "bfc install-unit --no-enable --unit-dir /dev/null", "refusing /dev/null: it is a character device, not a directory"),
    ]
}

#[test]
fn malformed_input_is_refused_clearly_and_changes_nothing() {
    let mut cases = cases();
    cases.extend(trust_cases());
    assert!(cases.len() >= 120, "{} cases", cases.len());
    let t = scratch();
    let mut script = String::from(
        r#"bfc enable riscv64-linux >/dev/null 2>&1 || exit 3
printf ':foreign:M::MZ::/bin/sh:' > /proc/sys/fs/binfmt_misc/register || exit 4
cp "$T/config.toml" "$T/baseline.toml"
mkdir -p "$T/profiles.d"
snap() { { cat "$T/config.toml"; for e in /proc/sys/fs/binfmt_misc/*; do echo "== $e"; cat "$e"; done; } | cksum; }
"#,
    );
    for (i, c) in cases.iter().enumerate() {
        script += &format!(
            "cp \"$T/baseline.toml\" \"$T/config.toml\"; rm -f \"$T/profiles.d\"/*\n{setup}\nbefore=$(snap)\n{command} >\"$T/out.{i}\" 2>\"$T/err.{i}\"; echo $? >\"$T/rc.{i}\"\n[ \"$before\" = \"$(snap)\" ] && echo same >\"$T/same.{i}\" || echo changed >\"$T/same.{i}\"\n",
            setup = c.setup,
            command = c.command
        );
    }
    ok(&private(As::Me, t.path(), &script));
    let read = |f: String| fs::read_to_string(t.path().join(f)).unwrap_or_default();
    let mut failures = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let (rc, err, same) = (
            read(format!("rc.{i}")),
            read(format!("err.{i}")),
            read(format!("same.{i}")),
        );
        let problems: Vec<&str> = [
            (rc.trim() != "2", "exit status is not 2"),
            (
                !err.contains(&c.says),
                "the message does not say what is wrong",
            ),
            (
                !(err.starts_with("binfmtctl: error: ")
                    || err.starts_with("error: ")
                    || err.starts_with("binfmtctl: warning: ")),
                "stderr is not an error message",
            ),
            (
                same.trim() != "same",
                "the config or the kernel table changed",
            ),
        ]
        .into_iter()
        .filter_map(|(bad, why)| bad.then_some(why))
        .collect();
        if !problems.is_empty() {
            failures.push(format!(
                "{}: `{}`: {}\n  rc={} expected message part: {:?}\n  stderr: {:?}",
                c.what,
                c.command,
                problems.join(", "),
                rc.trim(),
                c.says,
                err
            ));
        }
    }
    eprintln!(
        "{} malformed inputs, {} failed",
        cases.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The worker of the concurrency test (bash): random enable/disable/apply on the entry names
/// it owns until the deadline; its intended final state, op count and failures go to $T.
const WORKER: &str = r#"
w=$1; end=$2
bfc() { "$B" --config "$T/config.toml" --state-dir "$T/state" "$@"; }
declare -A intent
ops=0; fails=0
while [ "$(date +%s)" -lt "$end" ]; do
  n="w${w}$((RANDOM % 2))"
  case $((RANDOM % 5)) in
    0|1)
      if [ $((RANDOM % 2)) = 0 ]; then sys=riscv64-linux; cpu=riscv64; else sys=aarch64-linux; cpu=aarch64; fi
      extra=""; flags=PF
      if [ $((RANDOM % 2)) = 0 ]; then extra=--open-binary; flags=POF; fi
      if bfc enable "$sys" --name "$n" --interpreter "/usr/bin/qemu-$cpu-static" $extra >/dev/null 2>>"$T/fail.$w"; then
        intent[$n]="$sys $flags"
      else fails=$((fails + 1)); fi ;;
    2|3)
      if bfc disable --name "$n" >/dev/null 2>>"$T/fail.$w"; then intent[$n]=off; else fails=$((fails + 1)); fi ;;
    4)
      bfc apply >/dev/null 2>>"$T/fail.$w" || fails=$((fails + 1)) ;;
  esac
  ops=$((ops + 1))
done
for n in "${!intent[@]}"; do echo "$n ${intent[$n]}"; done > "$T/intent.$w"
echo "$ops $fails" > "$T/ops.$w"
"#;

/// The reader of the concurrency test: parses the config with binfmtctl itself, as often as
/// it can, until the deadline.
const READER: &str = r#"
end=$1; ok=0; bad=0
while [ "$(date +%s)" -lt "$end" ]; do
  if [ -e "$T/config.toml" ]; then
    if "$B" --config "$T/config.toml" export --format binfmt.d >/dev/null 2>>"$T/reader.err"; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
  fi
done
echo "$ok $bad" > "$T/reads"
"#;

/// 16 processes doing random enable/disable/apply at once in one private instance: the config
/// always parses, no update is lost (each process owns two entry names, so its last
/// successful change of each is the truth), and after a final `apply` the kernel table is the
/// config. `BINFMTCTL_STRESS_SECONDS` sets the duration (default 30).
#[test]
fn sixteen_processes_lose_no_update() {
    const WORKERS: usize = 16;
    let seconds: u64 = std::env::var("BINFMTCTL_STRESS_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let t = scratch();
    fs::write(t.path().join("worker.sh"), WORKER).unwrap();
    fs::write(t.path().join("reader.sh"), READER).unwrap();
    let script = format!(
        r#"export B T
end=$(( $(date +%s) + {seconds} ))
bash "$T/reader.sh" "$end" &
for w in $(seq 1 {WORKERS}); do bash "$T/worker.sh" "$w" "$end" & done
wait
bfc apply > "$T/final-apply.out" 2>&1 || {{ cat "$T/final-apply.out"; exit 5; }}
bfc status --json > "$T/status.json"
"#
    );
    let started = Instant::now();
    ok(&private(As::Me, t.path(), &script));
    let took = started.elapsed();
    let read = |f: &str| fs::read_to_string(t.path().join(f)).unwrap_or_default();

    // Figures.
    let (mut ops, mut fails) = (0u64, 0u64);
    let mut intended = BTreeSet::new();
    for w in 1..=WORKERS {
        let counts: Vec<u64> = read(&format!("ops.{w}"))
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect();
        ops += counts[0];
        fails += counts[1];
        for line in read(&format!("intent.{w}")).lines() {
            let f: Vec<&str> = line.split(' ').collect();
            if f[1] != "off" {
                intended.insert((f[0].to_owned(), f[1].to_owned(), f[2].to_owned()));
            }
        }
    }
    let reads: Vec<u64> = read("reads")
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    eprintln!(
        "concurrency: {WORKERS} processes for {seconds} s ({:.1} s in all): {ops} operations ({}/s), {fails} failed; \
         config parsed {} times by a reader, {} failures; {} entries intended at the end",
        took.as_secs_f64(),
        ops / seconds.max(1),
        reads[0],
        reads[1],
        intended.len()
    );
    let failures: String = (1..=WORKERS).map(|w| read(&format!("fail.{w}"))).collect();
    assert_eq!(fails, 0, "operations failed:\n{failures}");
    assert!(ops >= WORKERS as u64, "{ops} operations");
    assert_eq!(
        reads[1],
        0,
        "the config did not parse: {}",
        read("reader.err")
    );
    assert!(reads[0] > 0);

    // No update lost: the config is exactly the union of what each process last asked for.
    let config = Config::load(&t.path().join("config.toml")).unwrap();
    let recorded: BTreeSet<(String, String, String)> = config
        .systems
        .iter()
        .map(|r| (r.name.to_string(), r.system.clone(), r.flags.0.to_string()))
        .collect();
    assert_eq!(recorded, intended);

    // After the final apply the kernel table is the config.
    let status: serde_json::Value = serde_json::from_str(&read("status.json")).unwrap();
    let table: BTreeSet<(String, String, String)> = status["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["systems"][0].as_str().unwrap_or("?").to_owned(),
                e["flags"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(table, intended);
    assert!(status["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["enabled"] == true && e["owner"]["kind"] == "binfmtctl"));
}

#[test]
fn host_table_refuses_interpreters_others_can_change_unless_forced() {
    // A directory only root can change (0700 in sticky /tmp), and one anyone can (0777).
    let safe = tempfile::tempdir().unwrap();
    let open = scratch();
    let root = fake_root(safe.path());
    let config = safe.path().join("config.toml");
    let (t, d) = (
        open.path().display().to_string(),
        safe.path().display().to_string(),
    );
    fs::copy(QEMU, open.path().join("qemu")).unwrap();
    fs::copy(QEMU, safe.path().join("qemu")).unwrap();
    fs::copy(QEMU, safe.path().join("qemu-of-1000")).unwrap();
    nix::unistd::chown(
        &safe.path().join("qemu-of-1000"),
        Some(nix::unistd::Uid::from_raw(1000)),
        None,
    )
    .unwrap();
    std::os::unix::fs::symlink(open.path().join("qemu"), safe.path().join("link")).unwrap();
    let enable = |interp: &str, extra: &[&str]| {
        let mut args = vec!["enable", "riscv64-linux", "--interpreter", interp];
        args.extend_from_slice(extra);
        host(&root, &config, &args)
    };
    let refused = |o: &std::process::Output, culprit: &str, why: &str| {
        assert_eq!(o.status.code(), Some(2), "{}", stderr(o));
        let interp_dir_msg = format!("{culprit} {why}, so users other than root could replace what every emulated program runs; make it root's and not writable by others (chown root:root {culprit} && chmod go-w {culprit}) or pass --force\n");
        assert!(
            stderr(o).starts_with("binfmtctl: error: refusing the interpreter "),
            "{}",
            stderr(o)
        );
        assert!(stderr(o).ends_with(&interp_dir_msg), "{}", stderr(o));
    };

    // In a world-writable directory, directly and through a symlink in a safe directory.
    for extra in [&["--dry-run"][..], &[]] {
        let o = enable(&format!("{t}/qemu"), extra);
        refused(&o, &t, "is writable by group and others (mode 0777)");
    }
    refused(
        &enable(&format!("{d}/link"), &["--dry-run"]),
        &t,
        "is writable by group and others (mode 0777)",
    );
    // Owned by someone else.
    let culprit = format!("{d}/qemu-of-1000");
    refused(
        &enable(&culprit, &["--dry-run"]),
        &culprit,
        "is owned by uid 1000, not root",
    );
    // Root's, in root's directories: fine.
    let o = enable(&format!("{d}/qemu"), &["--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    // Forced: a warning.
    let o = enable(&format!("{t}/qemu"), &["--dry-run", "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        format!("binfmtctl: warning: registering {t}/qemu although {t} is writable by group and others (mode 0777) (--force): users other than root can replace what every emulated program runs\n")
    );
    assert_eq!(
        fs::read_to_string(root.join("register")).unwrap(),
        "",
        "nothing was written"
    );
    assert!(!config.exists());

    // apply refuses such a record, unless `enable --force` recorded the interpreter.
    let record = format!("[[system]]\nsystem = \"riscv64-linux\"\nname = \"riscv64-linux\"\ninterpreter = \"{t}/qemu\"\nflags = \"PF\"\n");
    fs::write(&config, &record).unwrap();
    let o = host(&root, &config, &["apply"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("binfmtctl: warning: refused riscv64-linux: its interpreter {t}/qemu can be changed by users other than root ({t} is writable by group and others (mode 0777)); fix the permissions, or accept the risk with `binfmtctl enable riscv64-linux --interpreter {t}/qemu --name riscv64-linux --force`")), "{}", stderr(&o));
    assert_eq!(
        fs::read_to_string(root.join("register")).unwrap(),
        "",
        "apply registered it"
    );
    fs::write(
        &config,
        format!("forced_interpreters = [\"{t}/qemu\"]\n\n{record}"),
    )
    .unwrap();
    let o = host(&root, &config, &["apply"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("binfmtctl: warning: entry riscv64-linux: its interpreter {t}/qemu can be changed by users other than root")), "{}", stderr(&o));
    assert!(fs::read_to_string(root.join("register"))
        .unwrap()
        .ends_with(&format!(":{t}/qemu:PF")));

    // The config itself must live where only root can change it.
    let o = host(&root, &open.path().join("config.toml"), &["apply"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!("binfmtctl: error: refusing to keep the configuration in {t}: {t} is writable by group and others (mode 0777), so users other than root could rewrite what binfmtctl registers as root; use a directory only root can change (the default is /etc/binfmtctl/config.toml)\n")
    );
}

#[test]
fn private_instance_warns_about_such_interpreters_and_files_get_safe_modes() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        &format!(
            r#"cp {QEMU} "$T/qemu" && bfc enable riscv64-linux --interpreter "$T/qemu" >/dev/null 2>"$T/err" || {{ cat "$T/err"; exit 3; }}
cat "$T/err"
stat -c '%n %a' "$T/config.toml" "$T/config.toml.lock" "$T/state" "$T/state/state.json"
"#
        ),
    );
    let text = ok(&out);
    let t = t.path().display();
    assert_eq!(
        text,
        format!(
            "binfmtctl: warning: interpreter {t}/qemu: {t} is writable by group and others (mode 0777); accepted because this binfmt_misc instance belongs to a user namespace (the host's table would refuse it without --force)\n\
             binfmtctl: riscv64-linux: {t}/qemu (static, flags PF)\n\
             {t}/config.toml 644\n{t}/config.toml.lock 600\n{t}/state 755\n{t}/state/state.json 644\n"
        )
    );
}

#[test]
fn a_symlinked_config_stays_a_link_and_its_target_is_written() {
    // The config kept in a repository and linked into place: binfmtctl writes the target.
    let t = scratch();
    let (etc, repo) = (t.path().join("etc"), t.path().join("repo"));
    fs::create_dir(&etc).unwrap();
    fs::create_dir(&repo).unwrap();
    fs::write(repo.join("config.toml"), "").unwrap();
    std::os::unix::fs::symlink("../repo/config.toml", etc.join("config.toml")).unwrap();
    let out = private(
        As::Me,
        t.path(),
        r#"C() { "$B" --config "$T/etc/config.toml" --state-dir "$T/state" "$@"; }
C enable riscv64-linux >/dev/null 2>"$T/err" || { cat "$T/err"; exit 3; }
test -L "$T/etc/config.toml" && echo "enabled: link kept"
grep -c '^name = "riscv64-linux"$' "$T/repo/config.toml"
C disable riscv64-linux >/dev/null 2>"$T/err" || { cat "$T/err"; exit 4; }
test -L "$T/etc/config.toml" && echo "disabled: link kept"
grep -c riscv64 "$T/repo/config.toml"
ls -A "$T/etc" "$T/repo"
"#,
    );
    let t = t.path().display();
    assert_eq!(
        ok(&out),
        format!(
            "enabled: link kept\n1\ndisabled: link kept\n0\n\
             {t}/etc:\nconfig.toml\nconfig.toml.lock\n\n{t}/repo:\nconfig.toml\n"
        )
    );
}

#[test]
fn flag_c_needs_its_own_option_and_says_why() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        r#"bfc enable riscv64-linux 2>/dev/null >/dev/null && grep flags /proc/sys/fs/binfmt_misc/riscv64-linux
bfc enable riscv64-linux --credentials >/dev/null 2>"$T/err" && grep flags /proc/sys/fs/binfmt_misc/riscv64-linux
cat "$T/err"
"#,
    );
    let text = ok(&out);
    assert!(
        text.starts_with("flags: PF\nflags: POCF\n"),
        "C only with --credentials: {text}"
    );
    assert!(text.contains("binfmtctl: warning: flag C makes setuid/setgid emulated programs run with raised privileges inside qemu-user, which was never designed to be a security boundary; any user who can run such a program may gain those privileges\n"), "{text}");
}

/// The process-status lines that say what a process may do.
fn privileges(status: &str) -> Vec<&str> {
    status
        .lines()
        .filter(|l| {
            [
                "Uid:",
                "Gid:",
                "Groups:",
                "NoNewPrivs:",
                "Seccomp:",
                "CapInh:",
                "CapPrm:",
                "CapEff:",
                "CapBnd:",
                "CapAmb:",
            ]
            .iter()
            .any(|k| l.starts_with(k))
        })
        .collect()
}

/// `binfmtctl run` ends in exec and changes nothing about who runs the program: no uid or
/// gid change, no capability, no_new_privs left as it was, and a setuid-root foreign program
/// run through qemu stays unprivileged (qemu is exec'd, not the program). `build` likewise.
#[test]
fn run_and_build_gain_no_privileges() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test drops to nobody and needs root"
    );
    let t = scratch();
    let nobody = |no_new_privs: bool, cmd: &[&str]| {
        let mut c = Command::new(common::require("setpriv", "util-linux"));
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
        if no_new_privs {
            c.arg("--no-new-privs");
        }
        c.arg("--").args(cmd).current_dir(t.path());
        c.output().unwrap()
    };
    for nnp in [false, true] {
        let direct = nobody(nnp, &["/bin/cat", "/proc/self/status"]);
        let via = nobody(nnp, &[BIN, "run", "/bin/cat", "/proc/self/status"]);
        assert_eq!(
            privileges(&ok(&via)),
            privileges(&ok(&direct)),
            "no_new_privs={nnp}"
        );
        assert!(privileges(&stdout(&via)).contains(&if nnp {
            "NoNewPrivs:\t1"
        } else {
            "NoNewPrivs:\t0"
        }));
    }
    // As root too: run keeps root's capabilities as they are, adds none.
    let direct = Command::new("/bin/cat")
        .arg("/proc/self/status")
        .output()
        .unwrap();
    let via = Command::new(BIN)
        .args(["run", "/bin/cat", "/proc/self/status"])
        .output()
        .unwrap();
    assert_eq!(privileges(&ok(&via)), privileges(&ok(&direct)));

    // A setuid-root native program does get root when exec'd (so setuid works here)...
    let id = t.path().join("id-suid");
    fs::copy("/usr/bin/id", &id).unwrap();
    let busybox = t.path().join("busybox-suid");
    fs::copy(common::busybox_arm64(), &busybox).unwrap();
    for f in [&id, &busybox] {
        fs::set_permissions(f, std::os::unix::fs::PermissionsExt::from_mode(0o4755)).unwrap();
    }
    assert_eq!(
        ok(&nobody(false, &[id.to_str().unwrap(), "-u"])).trim(),
        "0"
    );
    // ...but a setuid-root foreign program run by binfmtctl stays the user who ran it.
    let o = nobody(false, &[BIN, "run", busybox.to_str().unwrap(), "id", "-u"]);
    assert_eq!(ok(&o).trim(), "65534", "{}", stderr(&o));

    // `build` runs the command in user namespaces of its own (a private binfmt_misc
    // instance), mapped back to the caller: same ids, no capability, no_new_privs kept. Only
    // the bounding set differs: a new user namespace starts with every capability bounded,
    // and those would concern that namespace alone.
    let without_bounding = |status: &str| -> Vec<String> {
        privileges(status)
            .into_iter()
            .filter(|l| !l.starts_with("CapBnd:"))
            .map(str::to_owned)
            .collect()
    };
    for nnp in [false, true] {
        let direct = nobody(nnp, &["/bin/cat", "/proc/self/status"]);
        let via = nobody(nnp, &[BIN, "build", "--", "/bin/cat", "/proc/self/status"]);
        assert_eq!(
            without_bounding(&ok(&via)),
            without_bounding(&ok(&direct)),
            "build, no_new_privs={nnp}"
        );
    }
    let o = nobody(
        false,
        &[BIN, "build", "--", busybox.to_str().unwrap(), "id", "-u"],
    );
    assert_eq!(ok(&o).trim(), "65534", "{}", stderr(&o));
}
