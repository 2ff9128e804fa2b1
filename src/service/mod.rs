//! What every operation works with: the kernel's table, the config, the state, the profiles,
//! Nix's settings file, all as the command line chose them; and the rules over them that
//! several commands share (whose entry is this, what a config record stands for).

pub mod admit;
pub mod apply;
pub mod disable;
pub mod enable;
pub mod import;
pub mod status;
pub mod transaction;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, Result};

use crate::binfmt::{Entry, Registration, Registry};
use crate::cli::Global;
use crate::model::profile::Profiles;
use crate::nixconf::{self, NixSettings};
use crate::report;
use crate::store::config::{Config, SystemConfig};
use crate::store::state::State;
use crate::trust::Use;

/// What every command works with.
pub struct Ctx {
    pub registry: Registry,
    pub nix_conf: PathBuf,
    pub config_path: PathBuf,
    pub state_dir: PathBuf,
    pub profiles: Profiles,
    /// Whether this command acts on what it reads (see `use_of`).
    pub use_: Use,
    /// Said already that the config's hand-made layout was given up (once a command).
    layout_lost: AtomicBool,
}

impl Ctx {
    pub fn new(g: &Global, use_: Use) -> Result<Ctx> {
        Ok(Ctx {
            use_,
            registry: Registry::new(&g.root),
            nix_conf: g.nix_conf.clone().unwrap_or_else(|| {
                nixconf::default_nix_conf(std::env::var_os("NIX_CONF_DIR").as_deref())
            }),
            config_path: g.config.clone(),
            state_dir: g.state_dir.clone(),
            profiles: Profiles::load_for(g.profiles.as_deref(), use_)?,
            layout_lost: AtomicBool::new(false),
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
        let reg = profile.registration(rec.name.clone(), rec.interpreter.clone(), rec.flags.0);
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

    /// Save the config where the command line says (callers hold its lock), and say when
    /// its hand-made layout could not be kept.
    pub fn save_config(&self, config: &Config) -> Result<()> {
        if config.save(&self.config_path)? && !self.layout_lost.swap(true, Ordering::Relaxed) {
            report::warn(&format!(
                "{}: its hand-made layout could not be kept for this change; it is written anew, every record \
                 in it, comments lost",
                self.config_path.display()
            ));
        }
        Ok(())
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
