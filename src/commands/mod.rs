//! One module per subcommand, each thin; shared context here.

mod check;
mod disable;
mod enable;
mod identify;
mod run;
mod status;
mod systems;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use crate::cli::{Cli, Command, Global};
use crate::config::{Config, SystemConfig};
use crate::profile::{Profile, Profiles};
use crate::registry::{Entry, EntryName, Flags, Registration, Registry};
use crate::state::State;

/// Run one command.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let ctx = Ctx::new(&cli.global)?;
    match cli.command {
        Command::Enable(args) => enable::run(&ctx, &args),
        Command::Disable(args) => disable::run(&ctx, &args),
        Command::Status(args) => status::run(&ctx, args.json),
        Command::Systems(args) => systems::run(&ctx, args.json),
        Command::Identify(args) => identify::run(&ctx, &args),
        Command::Run(args) => run::run(&ctx, &args),
        Command::Check(args) => check::run(&ctx, &args),
        Command::ExecInChroot {
            dir,
            program,
            argv0,
        } => check::exec_in_chroot(&dir, &program, &argv0),
    }
}

/// What every command works with.
pub struct Ctx {
    pub registry: Registry,
    pub config_path: PathBuf,
    pub state_dir: PathBuf,
    pub profiles: Profiles,
}

impl Ctx {
    fn new(g: &Global) -> Result<Ctx> {
        Ok(Ctx {
            registry: Registry::new(&g.root),
            config_path: g.config.clone(),
            state_dir: g.state_dir.clone(),
            profiles: Profiles::load(g.profiles.as_deref())?,
        })
    }

    pub fn config(&self) -> Result<Config> {
        Config::load(&self.config_path)
    }

    pub fn state(&self) -> Result<State> {
        State::load(&self.state_dir)
    }

    /// The registration a config record stands for.
    pub fn desired(&self, rec: &SystemConfig) -> Result<Registration> {
        let profile = self
            .profiles
            .lookup(&rec.system)
            .with_context(|| format!("{}: entry {}", self.config_path.display(), rec.name))?;
        Ok(registration(
            profile,
            rec.name.clone(),
            rec.interpreter.clone(),
            rec.flags.0,
        ))
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

/// The registration of `profile` under `name` with an interpreter and flags.
pub fn registration(
    profile: &Profile,
    name: EntryName,
    interpreter: String,
    flags: Flags,
) -> Registration {
    Registration {
        name,
        matcher: profile.matcher(),
        interpreter,
        flags,
    }
}

/// Fail unless this process may change binfmt_misc (CAP_SYS_ADMIN in its user namespace).
pub fn require_admin(what: &str) -> Result<()> {
    let has = caps::has_cap(
        None,
        caps::CapSet::Effective,
        caps::Capability::CAP_SYS_ADMIN,
    )
    .unwrap_or(false);
    if has {
        Ok(())
    } else {
        anyhow::bail!("{what} needs root (CAP_SYS_ADMIN) to change binfmt_misc; run it with sudo, or add --dry-run to see what it would do")
    }
}
