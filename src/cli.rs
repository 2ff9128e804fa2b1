//! The command line: clap definitions only.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Run foreign-architecture Linux programs through qemu-user and binfmt_misc.
#[derive(Debug, Parser)]
#[command(name = "binfmtctl", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parse the command line, or exit with clap's message (status 2). `build`'s command
    /// comes after `--` (its own options would otherwise be taken for binfmtctl's): a word
    /// clap does not take there gets a tip saying so.
    pub fn parse_args(args: &[std::ffi::OsString]) -> Cli {
        use clap::error::{ContextKind, ContextValue, ErrorKind};
        Cli::try_parse_from(args).unwrap_or_else(|mut err| {
            if err.kind() == ErrorKind::UnknownArgument && subcommand_of(args) == Some("build") {
                let unexpected = match err.get(ContextKind::InvalidArg) {
                    Some(ContextValue::String(word)) => word.clone(),
                    _ => String::new(),
                };
                // `--` goes before the first word clap did not take.
                let mut rest: Vec<String> = args
                    .iter()
                    .skip_while(|a| *a != "build")
                    .skip(1)
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect();
                let at = rest.iter().position(|w| *w == unexpected).unwrap_or(0);
                rest.insert(at, "--".into());
                err.insert(
                    ContextKind::Suggested,
                    ContextValue::StyledStrs(vec![format!(
                        "the command to run goes after `--`: binfmtctl build {}",
                        rest.join(" ")
                    )
                    .into()]),
                );
            }
            err.exit()
        })
    }
}

/// The subcommand of a command line: its first word that is neither an option nor a global
/// option's value.
fn subcommand_of(args: &[std::ffi::OsString]) -> Option<&str> {
    let mut words = args.iter().skip(1);
    while let Some(w) = words.next() {
        let w = w.to_str()?;
        if [
            "--root",
            "--config",
            "--state-dir",
            "--nix-conf",
            "--profiles",
        ]
        .contains(&w)
        {
            words.next();
        } else if !w.starts_with('-') {
            return Some(w);
        }
    }
    None
}

/// `binfmtctl [GLOBAL OPTIONS] run [OPTIONS] PROGRAM [ARGS]...` read by hand, the same as
/// through [`Cli`]. `run` is an exec wrapper, so its start-up is overhead on every program it
/// starts (BENCHMARKS.md, section 3): building clap's parser, even for `run` alone, was a third
/// of the instructions it executed before exec-ing qemu, and its code a quarter of the pages it
/// touched. This parser takes only plain command lines: `--OPTION VALUE` or `--OPTION=VALUE`
/// for the options of `run` and the global ones, each at most once, an optional `--`, then the
/// program. Anything else (`--help`, `-V`, a repeated or unknown option, a value that looks like
/// an option, a program name starting with `-`, no program) gives `None` and goes to [`Cli`],
/// so help, errors and every corner of clap's rules read the same either way. A unit test
/// checks that whatever this parser takes, [`Cli`] parses to the same values.
#[derive(Debug)]
pub struct RunOnly {
    pub global: Global,
    pub args: RunArgs,
}

impl RunOnly {
    /// The fast parse of `binfmtctl [GLOBAL OPTIONS] run ARGS...` (`args` includes argv[0]);
    /// `None` when `args` is not a command line this parser takes.
    pub fn try_from_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> Option<RunOnly> {
        use std::os::unix::ffi::OsStrExt as _;

        let mut args = args.into_iter().skip(1);
        let mut parsed = RunOnly::defaults();
        let mut seen: u8 = 0; // one bit an option: clap refuses an option given twice
        let mut in_run = false;
        while let Some(arg) = args.next() {
            let bytes = arg.as_bytes();
            if !in_run && bytes == b"run" {
                in_run = true;
                continue;
            }
            if !in_run && !bytes.starts_with(b"--") {
                return None; // another subcommand, or something for clap to explain
            }
            if in_run && bytes == b"--" {
                parsed.args.command.extend(args.by_ref());
                break;
            }
            if in_run && !bytes.starts_with(b"-") {
                parsed.args.command.push(arg);
                parsed.args.command.extend(args.by_ref());
                break;
            }
            let (option, inline) = FastOption::read(bytes, in_run)?;
            if seen & option.bit() != 0 {
                return None;
            }
            seen |= option.bit();
            let value = match inline {
                Some(v) => v,
                None => args.next()?,
            };
            // clap reads a leading `-` as the next option and refuses empty values here.
            if value.is_empty() || value.as_bytes().starts_with(b"-") {
                return None;
            }
            parsed.set(option, value)?;
        }
        if parsed.args.command.is_empty() {
            return None;
        }
        Some(parsed)
    }

    /// What clap gives when no option is: [`Global`]'s defaults, no `run` option, no program.
    fn defaults() -> RunOnly {
        RunOnly {
            global: Global {
                root: PathBuf::from(crate::binfmt::DEFAULT_ROOT),
                config: PathBuf::from(crate::store::config::DEFAULT_PATH),
                state_dir: PathBuf::from(crate::store::state::DEFAULT_DIR),
                nix_conf: None,
                profiles: None,
                quiet: false,
                verbose: false,
            },
            args: RunArgs {
                system: None,
                sysroot: None,
                interpreter: None,
                command: Vec::new(),
            },
        }
    }

    /// Record an option's value; None when clap would refuse it (a `--system` not UTF-8).
    fn set(&mut self, option: FastOption, value: std::ffi::OsString) -> Option<()> {
        let (global, run) = (&mut self.global, &mut self.args);
        match option {
            FastOption::Root => global.root = value.into(),
            FastOption::Config => global.config = value.into(),
            FastOption::StateDir => global.state_dir = value.into(),
            FastOption::NixConf => global.nix_conf = Some(value.into()),
            FastOption::Profiles => global.profiles = Some(value.into()),
            FastOption::System => run.system = Some(value.into_string().ok()?),
            FastOption::Sysroot => run.sysroot = Some(value.into()),
            FastOption::Interpreter => run.interpreter = Some(value.into()),
        }
        Some(())
    }
}

/// The options [`RunOnly`] takes: the global ones, and, after `run`, run's own.
#[derive(Debug, Clone, Copy)]
enum FastOption {
    Root,
    Config,
    StateDir,
    NixConf,
    Profiles,
    System,
    Sysroot,
    Interpreter,
}

impl FastOption {
    /// `--NAME` or `--NAME=VALUE` (`arg`, starting with `--`): the option and its inline
    /// value. None for anything else (`-h`, `-V`, a program starting with `-`, an option this
    /// parser does not take): clap decides.
    fn read(arg: &[u8], in_run: bool) -> Option<(FastOption, Option<std::ffi::OsString>)> {
        use std::os::unix::ffi::OsStringExt as _;
        let body = arg.strip_prefix(b"--")?;
        let (name, inline) = match body.iter().position(|&b| b == b'=') {
            Some(at) => (
                &body[..at],
                Some(std::ffi::OsString::from_vec(body[at + 1..].to_vec())),
            ),
            None => (body, None),
        };
        let option = match name {
            b"root" => FastOption::Root,
            b"config" => FastOption::Config,
            b"state-dir" => FastOption::StateDir,
            b"nix-conf" => FastOption::NixConf,
            b"profiles" => FastOption::Profiles,
            b"system" if in_run => FastOption::System,
            b"sysroot" if in_run => FastOption::Sysroot,
            b"interpreter" if in_run => FastOption::Interpreter,
            _ => return None,
        };
        Some((option, inline))
    }

    /// Its bit in the set of options seen.
    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// The heading global options are shown under, once, apart from each command's own.
const GLOBAL: &str = "Global options";

#[derive(Debug, Args)]
#[command(next_help_heading = GLOBAL)]
pub struct Global {
    /// Where binfmt_misc is mounted.
    #[arg(long, global = true, value_name = "DIR", value_hint = clap::ValueHint::DirPath, default_value = crate::binfmt::DEFAULT_ROOT)]
    pub root: PathBuf,
    /// The configuration file (the registrations restored at boot).
    #[arg(long, global = true, value_name = "FILE", value_hint = clap::ValueHint::FilePath, default_value = crate::store::config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// Where binfmtctl records what it registered (a tmpfs directory).
    #[arg(long, global = true, value_name = "DIR", value_hint = clap::ValueHint::DirPath, default_value = crate::store::state::DEFAULT_DIR)]
    pub state_dir: PathBuf,
    /// The nix.conf that `--nix` includes binfmtctl's Nix settings from [default: $NIX_CONF_DIR/nix.conf, else /etc/nix/nix.conf].
    #[arg(long, global = true, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub nix_conf: Option<PathBuf>,
    /// A directory of extra or overriding profiles (*.toml) [default: /etc/binfmtctl/profiles.d].
    #[arg(long, global = true, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub profiles: Option<PathBuf>,
    /// Say less: no notes on stderr, only warnings and errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Say more: also the raw lines written to binfmt_misc's register file.
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register qemu-user for systems, check that their programs run, and record them for boot.
    ///
    /// Each entry is read back, then the system's probe (a tiny program) is executed through the
    /// kernel. When it does not run, the registration is kept, a warning says why and what to do,
    /// and the exit status is 1. With --runtime nothing is recorded.
    #[command(
        after_help = "Examples:\n  binfmtctl enable riscv64-linux\n  binfmtctl enable arm64,riscv64 --nix\n  binfmtctl enable all --dry-run"
    )]
    Enable(EnableArgs),
    /// Remove binfmtctl's registrations for systems and forget them.
    #[command(
        after_help = "Examples:\n  binfmtctl disable riscv64-linux\n  binfmtctl disable 'qemu-*' --dry-run\n  binfmtctl disable --name qemu-aarch64"
    )]
    Disable(DisableArgs),
    /// Make the kernel table match the configuration (what the boot unit runs).
    #[command(after_help = "Examples:\n  binfmtctl apply --dry-run\n  binfmtctl apply")]
    Apply(ApplyArgs),
    /// Print the configured registrations in another tool's format.
    #[command(
        after_help = "Examples:\n  binfmtctl export > /etc/binfmt.d/binfmtctl.conf\n  binfmtctl export --format nixos"
    )]
    Export(ExportArgs),
    /// Add the registrations of binfmt.d files (e.g. Debian's /usr/lib/binfmt.d/qemu-*.conf) to the config.
    #[command(
        after_help = "Examples:\n  binfmtctl import --dry-run /usr/lib/binfmt.d/\n  binfmtctl import /usr/lib/binfmt.d/qemu-aarch64.conf"
    )]
    Import(ImportArgs),
    /// Print the nix.conf lines binfmtctl's configuration stands for, without writing; with
    /// --systems, the systems this machine can build (for a remote builder's machines line).
    #[command(after_help = "Examples:\n  binfmtctl nix-config\n  binfmtctl nix-config --systems")]
    NixConfig(NixConfigArgs),
    /// Show every binfmt_misc entry: whose it is, what it runs, which one wins.
    #[command(after_help = "Examples:\n  binfmtctl status\n  binfmtctl status --json")]
    Status(JsonArg),
    /// List every known system: aliases, native or not, interpreter found, enabled.
    #[command(after_help = "Examples:\n  binfmtctl systems\n  binfmtctl systems --json")]
    Systems(JsonArg),
    /// Tell which system(s) ELF files are for, static or dynamic, and their loader.
    #[command(
        after_help = "Examples:\n  binfmtctl identify ./hello\n  binfmtctl identify --json /usr/riscv64-linux-gnu/lib/*.so*"
    )]
    Identify(IdentifyArgs),
    /// Run one foreign program, with or without a registration, as any user.
    #[command(
        after_help = "Examples:\n  binfmtctl run ./hello-riscv64 --flag\n  binfmtctl run --sysroot /usr/aarch64-linux-gnu ./hello-arm64"
    )]
    Run(RunArgs),
    /// Prove that emulation works by executing tiny probe programs; say what to fix.
    #[command(after_help = "Examples:\n  binfmtctl check\n  binfmtctl check riscv64,arm64 --json")]
    Check(CheckArgs),
    /// Run a command (a cross build) so that every foreign program it executes runs under qemu,
    /// in a private binfmt_misc instance: nothing changes for the rest of the machine.
    #[command(
        after_help = "Examples:\n  binfmtctl build -- make check\n  binfmtctl build --system riscv64 --report - -- ./configure --host=riscv64-linux-gnu"
    )]
    Build(BuildArgs),
    /// Install the systemd unit that restores the registrations at boot (and after every
    /// restart of systemd-binfmt), pointing at this binfmtctl, and enable it.
    #[command(
        after_help = "Examples:\n  sudo binfmtctl install-unit\n  binfmtctl install-unit --dry-run"
    )]
    InstallUnit(InstallUnitArgs),
    /// tonistiigi/binfmt's interface, the entrypoint of the container image (Containerfile):
    /// --install, --uninstall, then the JSON status ({"supported": [...], "emulators": [...]}).
    ///
    /// Entries are named qemu-<cpu> and registered for this boot only (--runtime), with F so
    /// they keep working after the container exits. README.md, "CI runners and Kubernetes",
    /// lists what differs from tonistiigi/binfmt.
    #[command(
        after_help = "Examples:\n  binfmtctl tonistiigi --install arm64,riscv64\n  binfmtctl tonistiigi --uninstall 'qemu-*'"
    )]
    Tonistiigi(TonistiigiArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Examples:\n  binfmtctl completions bash > /etc/bash_completion.d/binfmtctl\n  binfmtctl completions zsh > /usr/local/share/zsh/site-functions/_binfmtctl\n  binfmtctl completions fish > ~/.config/fish/completions/binfmtctl.fish"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `binfmtctl man > /usr/share/man/man1/binfmtctl.1`.
    #[command(
        after_help = "Examples:\n  binfmtctl man > /usr/local/share/man/man1/binfmtctl.1\n  binfmtctl man | man -l -"
    )]
    Man,
    /// (internal) print the systems whose probes in DIR run in a private, empty binfmt_misc.
    #[command(hide = true, name = "__native-probe")]
    NativeProbe { dir: PathBuf },
    /// (internal) write the uid/gid maps of PID once told to on stdin.
    #[command(hide = true, name = "__write-id-maps")]
    WriteIdMaps {
        pid: u32,
        uid_map: String,
        gid_map: String,
    },
    /// (internal) exec a program inside a fresh user + mount namespace chrooted to DIR.
    #[command(hide = true, name = "__exec-in-chroot")]
    ExecInChroot {
        dir: PathBuf,
        program: PathBuf,
        argv0: String,
    },
}

#[derive(Debug, Args, Clone, Copy)]
pub struct ApplyArgs {
    /// Print what would be written, and where, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print what was done as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone, Copy)]
pub struct NixConfigArgs {
    /// Print the systems this machine can build, native ones first, comma-separated: the
    /// systems field of an /etc/nix/machines line (or nix.buildMachines.*.systems) that names
    /// this machine as a remote builder.
    #[arg(long)]
    pub systems: bool,
    /// With --systems: print them as JSON.
    #[arg(long, requires = "systems")]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// systemd-binfmt's binfmt.d lines (/etc/binfmt.d/*.conf).
    #[value(name = "binfmt.d")]
    BinfmtD,
    /// A NixOS `boot.binfmt.registrations` attribute set.
    Nixos,
    /// Debian binfmt-support's update-binfmts format (/usr/share/binfmts/<name>).
    Debian,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long, value_enum, default_value = "binfmt.d")]
    pub format: ExportFormat,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// binfmt.d files, or directories of *.conf files.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,
    /// Keep the entry names of the files (default: name entries after their system).
    #[arg(long)]
    pub keep_names: bool,
    /// Accept lines with flag C (setuid programs run with raised privileges in qemu-user).
    #[arg(long)]
    pub credentials: bool,
    /// Print what would be recorded, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print what was recognised as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct IdentifyArgs {
    /// Files to identify.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print JSON for scripts instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The system the program is for (default: read from the program's ELF header).
    #[arg(long, value_name = "SYSTEM")]
    pub system: Option<String>,
    /// Where the target's loader and libraries live (default: found automatically).
    #[arg(long, value_name = "DIR")]
    pub sysroot: Option<PathBuf>,
    /// The emulator to use when running through qemu directly.
    #[arg(long, value_name = "PATH")]
    pub interpreter: Option<PathBuf>,
    /// The program, then its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "PROGRAM [ARGS]..."
    )]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// A system to emulate (repeatable, or comma-separated; default: every system with an
    /// installed interpreter that the host does not run natively).
    #[arg(long = "system", value_name = "SYSTEM", value_delimiter = ',')]
    pub systems: Vec<String>,
    /// Where a system's dynamically linked programs find their loader and libraries
    /// (repeatable, one per system; default: `$QEMU_LD_PREFIX`, the loader at its own path,
    /// Debian's cross sysroots `/usr/<triple>/`).
    #[arg(long = "sysroot", value_name = "SYSTEM=DIR")]
    pub sysroots: Vec<String>,
    /// Write a report of every foreign program the command executed (path, system, count,
    /// time) to FILE, or `-` for stderr.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Register in the host's table for the duration instead of a private instance (what is
    /// done anyway on Linux < 6.7); needs root. The table is restored afterwards.
    #[arg(long)]
    pub host_table: bool,
    /// The command and its arguments.
    #[arg(required = true, last = true, value_name = "COMMAND")]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct InstallUnitArgs {
    /// Where to write binfmtctl.service.
    #[arg(long, value_name = "DIR", default_value = "/etc/systemd/system")]
    pub unit_dir: PathBuf,
    /// Write the unit but do not run `systemctl daemon-reload` and `systemctl enable --now`.
    #[arg(long)]
    pub no_enable: bool,
    /// Print the unit and where it would go, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Point the unit at this binary even though users other than root could replace it, or
    /// its path holds characters systemd would read as syntax (quoted and escaped then).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Systems to check, also comma-separated (default: the configured systems and every system
    /// a registered entry runs).
    #[arg(value_name = "SYSTEM", value_delimiter = ',')]
    pub systems: Vec<String>,
    /// Print JSON for scripts instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct JsonArg {
    /// Print JSON for scripts instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EnableArgs {
    /// Systems to enable: Nix doubles (riscv64-linux) or aliases (arm64, linux/arm/v7, aarch64),
    /// also comma-separated (riscv64,arm64); `all` is --all.
    #[arg(
        required_unless_present = "all",
        value_name = "SYSTEM",
        value_delimiter = ','
    )]
    pub systems: Vec<String>,
    /// Every system with an installed interpreter that the host does not run natively; systems
    /// with identical magic, mask, interpreter and flags (armv6l, armv7l) share one entry.
    #[arg(long, conflicts_with_all = ["systems", "interpreter"])]
    pub all: bool,
    /// The interpreter to register instead of searching for qemu.
    #[arg(long, value_name = "PATH")]
    pub interpreter: Option<PathBuf>,
    /// The entry name (default: the system name, as NixOS does). With several systems or
    /// --all, a template: {cpu} and {system} stand for each system's qemu cpu and name
    /// (qemu-{cpu} gives Debian's and tonistiigi/binfmt's names).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Register even a system the host runs natively, or over an entry binfmtctl does not own.
    #[arg(long)]
    pub force: bool,
    /// Add flag C: setuid/setgid bits of emulated programs apply (a security risk).
    #[arg(long)]
    pub credentials: bool,
    /// Add flag O: the kernel passes an open file of the program (for unreadable programs).
    #[arg(long)]
    pub open_binary: bool,
    /// Register now but do not record in the configuration (gone at reboot).
    #[arg(long, conflicts_with = "nix")]
    pub runtime: bool,
    /// Also let Nix build for these systems: extra-platforms (and extra-sandbox-paths) in a
    /// file binfmtctl owns, included from nix.conf.
    #[arg(long)]
    pub nix: bool,
    /// Print what would be written, and where, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long)]
    /// Print what was done as JSON.
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TonistiigiArgs {
    /// Register emulators: a comma list of architectures (arm64,riscv64,arm,386), OCI
    /// platforms (linux/arm/v7) or binfmtctl's system names, or `all`.
    #[arg(long, value_name = "LIST|all")]
    pub install: Option<String>,
    /// Remove entries: a comma list of architectures (their qemu-<cpu> entries) or entry names
    /// and shell globs ('qemu-*'), whoever registered them. Done before --install.
    #[arg(long, value_name = "LIST|GLOB")]
    pub uninstall: Option<String>,
    /// Where binfmt_misc is mounted (tonistiigi's name for --root).
    #[arg(long, value_name = "DIR")]
    pub mount: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DisableArgs {
    /// Systems to disable (names or aliases, also comma-separated), or shell globs over the
    /// names of binfmtctl's entries ('qemu-*'); another tool's entries need --name.
    #[arg(
        value_name = "SYSTEM|GLOB",
        required_unless_present_any = ["all", "name", "nix"],
        value_delimiter = ','
    )]
    pub systems: Vec<String>,
    /// Disable every registration binfmtctl made.
    #[arg(long, conflicts_with = "systems")]
    pub all: bool,
    /// Remove the entry with this name, or every entry whose name matches this shell glob
    /// ('qemu-*'), even one binfmtctl did not create. A name or glob nothing has is not an
    /// error: a note says so and the status is 0, as for a system not registered.
    #[arg(long, value_name = "NAME|GLOB")]
    pub name: Vec<String>,
    /// Remove from the kernel only; keep the configuration.
    #[arg(long, conflicts_with = "nix")]
    pub runtime: bool,
    /// Stop managing Nix's settings: remove binfmtctl's file and its include from nix.conf.
    #[arg(long)]
    pub nix: bool,
    /// Print what would be written, and where, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print what was done as JSON.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use clap::Parser as _;
    use proptest::prelude::*;

    use super::{Cli, Command, RunOnly};

    fn argv(words: &[&str]) -> Vec<OsString> {
        std::iter::once("binfmtctl")
            .chain(words.iter().copied())
            .map(OsString::from)
            .collect()
    }

    /// What clap makes of a command line, for comparing: `Some` only for a `run`.
    fn by_clap(args: &[OsString]) -> Option<String> {
        match Cli::try_parse_from(args) {
            Ok(Cli {
                global,
                command: Command::Run(run),
            }) => Some(format!("{global:?} {run:?}")),
            _ => None,
        }
    }

    fn fast(args: &[OsString]) -> Option<String> {
        RunOnly::try_from_args(args.to_vec()).map(|r| format!("{:?} {:?}", r.global, r.args))
    }

    #[test]
    fn the_fast_parser_takes_plain_run_command_lines_as_clap_does() {
        for words in [
            &["run", "./hello", "a", "b"][..],
            &["run", "./hello"],
            &[
                "run",
                "--system",
                "riscv64-linux",
                "./hello",
                "--help",
                "-V",
            ],
            &[
                "run",
                "--system=riscv64-linux",
                "--sysroot",
                "/s",
                "--interpreter=/q",
                "p",
            ],
            &["--root", "/r", "run", "--config=/c", "p", "--", "x"],
            &[
                "--state-dir",
                "/s",
                "--nix-conf=/n",
                "--profiles",
                "/p",
                "run",
                "p",
            ],
            &["run", "--", "-program", "a"],
            &["run", "--root", "/r", "run"],
        ] {
            let args = argv(words);
            let fast = fast(&args);
            assert!(fast.is_some(), "the fast parser refused {words:?}");
            assert_eq!(fast, by_clap(&args), "{words:?}");
        }
    }

    #[test]
    fn the_fast_parser_leaves_help_errors_and_other_commands_to_clap() {
        for words in [
            &["run"][..],
            &["run", "--help"],
            &["run", "-h"],
            &["--version", "run", "p"],
            &["run", "--system", "a", "--system", "b", "p"],
            &["run", "--system"],
            &["run", "--system", "--sysroot", "p"],
            &["run", "--bogus", "p"],
            &["run", "-p"],
            &["run", "--root=", "p"],
            &["status", "run", "p"],
            &["--system", "x", "run", "p"],
        ] {
            assert_eq!(fast(&argv(words)), None, "{words:?}");
        }
    }

    fn parse(words: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(argv(words)).map(|c| c.command)
    }

    /// The systems a command line names, for the commands that take a list of them.
    fn systems_of(words: &[&str]) -> Vec<String> {
        match parse(words) {
            Ok(Command::Enable(a)) => a.systems,
            Ok(Command::Disable(a)) => a.systems,
            Ok(Command::Check(a)) => a.systems,
            Ok(Command::Build(a)) => a.systems,
            other => panic!("{words:?}: {other:?}"),
        }
    }

    #[test]
    fn every_list_of_systems_takes_commas() {
        for (words, systems) in [
            (
                &["enable", "riscv64,arm64", "s390x"][..],
                &["riscv64", "arm64", "s390x"][..],
            ),
            (&["disable", "riscv64,arm64"], &["riscv64", "arm64"]),
            (&["check", "riscv64,arm64"], &["riscv64", "arm64"]),
            (
                &["build", "--system", "riscv64,arm64", "--", "make"],
                &["riscv64", "arm64"],
            ),
        ] {
            assert_eq!(systems_of(words), systems, "{words:?}");
        }
    }

    #[test]
    fn enable_takes_all_as_a_word_or_an_option_and_disable_takes_globs() {
        let Ok(Command::Enable(e)) = parse(&["enable", "--all"]) else {
            panic!("enable --all")
        };
        assert!(e.all && e.systems.is_empty());
        let Ok(Command::Enable(e)) = parse(&["enable", "all", "--name", "qemu-{cpu}"]) else {
            panic!("enable all")
        };
        assert_eq!((e.all, &e.systems[..]), (false, &["all".to_owned()][..]));
        for refused in [
            &["enable"][..],
            &["enable", "--all", "riscv64"],
            &["enable", "--all", "--interpreter", "/q"],
        ] {
            let err = parse(refused).expect_err(&format!("{refused:?}"));
            assert_eq!(err.exit_code(), 2, "{refused:?}");
        }
        let Ok(Command::Disable(d)) = parse(&["disable", "--dry-run", "qemu-*", "--name", "x-*"])
        else {
            panic!("disable with globs")
        };
        assert_eq!(
            (&d.systems[..], &d.name[..]),
            (&["qemu-*".to_owned()][..], &["x-*".to_owned()][..])
        );
    }

    const WORDS: &[&str] = &[
        "run",
        "run",
        "--",
        "--root",
        "--root=/r",
        "/r",
        "--config",
        "--config=",
        "--state-dir",
        "--nix-conf=/n",
        "--profiles",
        "--system",
        "--system=riscv64-linux",
        "riscv64-linux",
        "--sysroot",
        "--sysroot=/s",
        "--interpreter",
        "/q",
        "-h",
        "--help",
        "-V",
        "--version",
        "./p",
        "p",
        "-x",
        "-",
        "",
        "=",
        "--x=y",
        "a=b",
        "status",
        "--json",
        "--dry-run",
    ];

    proptest! {
        /// Whatever the fast parser takes, clap takes the same way.
        #[test]
        fn the_fast_parser_agrees_with_clap(picks in proptest::collection::vec(0..WORDS.len(), 0..8)) {
            let words: Vec<&str> = picks.iter().map(|&i| WORDS[i]).collect();
            let args = argv(&words);
            if let Some(fast) = fast(&args) {
                prop_assert_eq!(Some(fast), by_clap(&args), "{:?}", words);
            }
        }
    }
}
