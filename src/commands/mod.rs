//! One module per subcommand, each thin; shared context here.

mod apply;
mod build;
mod check;
mod disable;
mod docs;
mod enable;
mod export;
mod identify;
mod import;
mod install_unit;
mod internal;
mod nix_config;
mod run;
mod status;
mod systems;
mod tonistiigi;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use crate::binfmt::{Entry, EntryName, Flags, Registration, Registry};
use crate::cli::{Cli, Command, Global};
use crate::model::profile::{Profile, Profiles};
use crate::nixconf::{self, NixSettings};
use crate::report;
use crate::store::config::{Config, SystemConfig};
use crate::store::state::State;
use crate::trust::Use;

/// Said whenever flag C is registered or recorded (`enable --credentials`, `import
/// --credentials`): what the flag gives away.
pub const CREDENTIALS_WARNING: &str = "flag C makes setuid/setgid emulated programs run with raised privileges inside qemu-user, \
     which was never designed to be a security boundary; any user who can run such a program may gain those privileges";

/// Run one command.
pub fn run(cli: Cli) -> Result<ExitCode> {
    report::set_verbosity(cli.global.quiet, cli.global.verbose);
    if let Some(done) = internal::run(&cli.command) {
        return done;
    }
    match cli.command {
        Command::Completions { shell } => return docs::completions(shell),
        Command::Man => return docs::man(),
        _ => {}
    }
    let mut global = cli.global;
    if let Command::Tonistiigi(crate::cli::TonistiigiArgs {
        mount: Some(mount), ..
    }) = &cli.command
    {
        global.root.clone_from(mount);
    }
    let ctx = Ctx::new(&global, use_of(&cli.command))?;
    match cli.command {
        Command::Enable(args) => enable::run(&ctx, &args),
        Command::Disable(args) => disable::run(&ctx, &args),
        Command::Apply(args) => apply::run(&ctx, args),
        Command::Export(args) => export::run(&ctx, &args),
        Command::Build(args) => build::run(&ctx, &args),
        Command::InstallUnit(args) => install_unit::run(&args, &global.config),
        Command::Import(args) => import::run(&ctx, &args),
        Command::NixConfig(args) => nix_config::run(&ctx, args),
        Command::Status(args) => status::run(&ctx, args.json),
        Command::Systems(args) => systems::run(&ctx, args.json),
        Command::Identify(args) => identify::run(&ctx, &args),
        Command::Run(args) => run::run(&ctx, &args),
        Command::Check(args) => check::run(&ctx, &args),
        Command::Tonistiigi(args) => tonistiigi::run(&ctx, &args),
        Command::Completions { .. }
        | Command::Man
        | Command::ExecInChroot { .. }
        | Command::NativeProbe { .. }
        | Command::WriteIdMaps { .. } => {
            unreachable!("handled above")
        }
    }
}

/// `binfmtctl run`, parsed by its own small parser.
pub fn run_only(cli: &crate::cli::RunOnly) -> Result<ExitCode> {
    run::run(&Ctx::new(&cli.global, Use::Show)?, &cli.args)
}

/// Whether a command acts on what it reads as root (registers, removes, records), so that
/// the config, state and profiles it reads pass the whole trust boundary (SECURITY.md), or
/// only shows it (type and size checked).
fn use_of(command: &Command) -> Use {
    let acts = match command {
        Command::Enable(a) => !a.dry_run,
        Command::Disable(a) => !a.dry_run,
        Command::Apply(a) => !a.dry_run,
        Command::Import(a) => !a.dry_run,
        Command::Build(a) => a.host_table,
        Command::Tonistiigi(a) => a.install.is_some() || a.uninstall.is_some(),
        _ => false,
    };
    if acts {
        Use::Act
    } else {
        Use::Show
    }
}

/// What every command works with.
pub struct Ctx {
    pub registry: Registry,
    pub nix_conf: PathBuf,
    pub config_path: PathBuf,
    pub state_dir: PathBuf,
    pub profiles: Profiles,
    /// Whether this command acts on what it reads (see `use_of`).
    pub use_: Use,
}

impl Ctx {
    fn new(g: &Global, use_: Use) -> Result<Ctx> {
        Ok(Ctx {
            use_,
            registry: Registry::new(&g.root),
            nix_conf: g.nix_conf.clone().unwrap_or_else(|| {
                nixconf::default_nix_conf(std::env::var_os("NIX_CONF_DIR").as_deref())
            }),
            config_path: g.config.clone(),
            state_dir: g.state_dir.clone(),
            profiles: Profiles::load_for(g.profiles.as_deref(), use_)?,
        })
    }

    pub fn config(&self) -> Result<Config> {
        Config::load_for(&self.config_path, self.use_)
    }

    pub fn state(&self) -> Result<State> {
        State::load_for(&self.state_dir, self.use_)
    }

    /// The registration a config record stands for.
    pub fn desired(&self, rec: &SystemConfig) -> Result<Registration> {
        let profile = self
            .profiles
            .lookup(&rec.system)
            .with_context(|| format!("{}: entry {}", self.config_path.display(), rec.name))?;
        let reg = registration(
            profile,
            rec.name.clone(),
            rec.interpreter.clone(),
            rec.flags.0,
        );
        // The same validation as a registration from the command line (issue 11, case 4).
        reg.validate().map_err(|e| {
            anyhow::anyhow!(
                "{}: entry {}: {e}; fix the record or remove it",
                self.config_path.display(),
                rec.name
            )
        })?;
        Ok(reg)
    }

    /// The Nix settings the config stands for.
    pub fn nix_settings(&self, config: &Config) -> NixSettings {
        let regs: Vec<(String, String, bool)> = config
            .systems
            .iter()
            .flat_map(|r| {
                r.systems().map(|system| {
                    (
                        system.to_owned(),
                        r.interpreter.clone(),
                        r.flags.0.fix_binary,
                    )
                })
            })
            .collect();
        NixSettings::new(&regs, std::env::consts::ARCH)
    }

    /// Bring the Nix files in step with the config: installed when `nix = true`.
    pub fn sync_nix(&self, config: &Config) -> Result<()> {
        if !config.nix {
            return Ok(());
        }
        let changed = nixconf::install(
            &self.nix_conf,
            &self.nix_settings(config),
            &self.config_path,
        )
        .with_context(|| {
            format!(
                "cannot update Nix's settings ({}); run `binfmtctl apply` to retry",
                self.nix_conf.display()
            )
        })?;
        if changed {
            report::note(&format!(
                "Nix settings written to {} (included from {})",
                nixconf::owned_path(&self.nix_conf).display(),
                self.nix_conf.display()
            ));
            if nixconf::daemon_running() {
                report::note("a nix-daemon is running: restart it to see the new settings (systemctl restart nix-daemon)");
            }
        }
        Ok(())
    }

    /// True when binfmtctl created this entry: it is what binfmtctl last registered under
    /// that name, or what the config asks for under that name.
    pub fn is_ours(&self, entry: &Entry, config: &Config, state: &State) -> bool {
        let have = entry.registration();
        state
            .registration(&entry.name)
            .is_some_and(|r| r.same_effect(&have))
            || config
                .get(&entry.name)
                .and_then(|rec| self.desired(rec).ok())
                .is_some_and(|r| r.same_effect(&have))
    }
}

/// How to be rid of another tool's entry for good, when a binfmt.d file (`scanned`, from
/// `binfmtd::scan`) holds its line: there, or through Debian's binfmt-support. Removing it
/// from the table alone lasts until the next boot or systemd-binfmt restart.
pub fn remove_for_good(
    scanned: &[(std::path::PathBuf, Registration)],
    e: &Entry,
) -> Option<String> {
    crate::binfmt::binfmtd::owner(scanned, &e.registration()).map(|file| {
        format!(
            "remove it for good where it comes from ({}; for Debian's binfmt-support: update-binfmts --disable {})",
            file.display(),
            e.name
        )
    })
}

/// The registration of `profile` under `name` with an interpreter and flags.
pub fn registration(
    profile: &Profile,
    name: EntryName,
    interpreter: String,
    flags: Flags,
) -> Registration {
    profile.registration(name, interpreter, flags)
}

/// What `enable` writes, and where: the raw register line only with `--dry-run` (what it would
/// write, as house style asks) or `-v`; otherwise it is noise for people (issue 14).
pub fn describe(registry: &Registry, action: &crate::model::plan::Action, dry_run: bool) -> String {
    describe_lines(registry, action, dry_run, dry_run || report::verbose())
}

/// What an action writes, and where, as `#` comment lines, plus the register line itself when
/// `line` (`apply` always: a failed line is looked for there).
pub fn describe_lines(
    registry: &Registry,
    action: &crate::model::plan::Action,
    dry_run: bool,
    line: bool,
) -> String {
    use crate::model::plan::Action;
    let would = if dry_run { "would " } else { "" };
    let r = action.registration();
    let path = registry.entry_path(&r.name);
    let register = registry.root().join("register");
    match action {
        Action::Unchanged(_) => {
            format!("# {} is already registered so; nothing to write\n", r.name)
        }
        Action::Enable(_) => format!("# {would}write 1 to {}\n", path.display()),
        Action::Remove(_) => format!("# {would}write -1 to {}\n", path.display()),
        Action::Register(_) if line => {
            format!("# {would}write to {}\n{r}\n", register.display())
        }
        Action::Register(_) => format!("# {would}register {} in {}\n", r.name, register.display()),
        Action::Replace { .. } if line => format!(
            "# {would}write -1 to {} (the older entry)\n# {would}write to {}\n{r}\n",
            path.display(),
            register.display()
        ),
        Action::Replace { .. } => format!(
            "# {would}replace {} (write -1 to {}, then register it in {})\n",
            r.name,
            path.display(),
            register.display()
        ),
    }
}

pub use crate::sys::privilege::{require_admin, require_admin_without_dry_run};
