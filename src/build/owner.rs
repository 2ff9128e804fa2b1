//! Which process made a temporary host-table entry of `build --host-table`, as the entry's
//! name says, and whether that process is gone: a build killed with SIGKILL (or by the OOM
//! killer) cannot remove its entries, and they would stay until the next reboot or flush.
//! The name carries enough to tell, later and safely, a dead build's leftovers from a running
//! build's entries. Pure logic first; the few reads of /proc are at the end.
//!
//! "Gone" means binfmtctl's own process is gone. The command it ran may outlive it (SIGKILL
//! to binfmtctl alone leaves the command running, orphaned) and then loses emulation when the
//! leftovers are removed; nothing else would ever remove them, and no safe mark of the orphan
//! exists (it may exec anything, and it shares binfmtctl's process group with others).

use std::fmt;
use std::io;
use std::os::unix::fs::MetadataExt as _;

use crate::binfmt::EntryName;

/// Every temporary entry of `build --host-table` begins with this.
pub const PREFIX: &str = "binfmtctl-build-";

/// The build process that made an entry. Its entries are named
/// `binfmtctl-build-<pid ns>-<time ns>-<pid>-<start>-<system>`:
/// - the pid namespace (inode of /proc/self/ns/pid): a pid means nothing outside its pid
///   namespace, and a container sharing the host's binfmt_misc instance (Linux < 6.7) has its
///   own;
/// - the time namespace (inode of /proc/self/ns/time, 0 without time namespaces): the start
///   time in /proc/<pid>/stat is shifted by the READER's time namespace (fs/proc/array.c,
///   `timens_add_boottime_ns`), so only a reader in the same one can compare it;
/// - the pid and its start time (clock ticks after boot, field 22 of /proc/<pid>/stat): the
///   pair names one process for the whole boot, so a reused pid is not taken for the build.
///
/// With 20 digits at most per number and the longest system name, the name stays far below
/// the 255 bytes an entry name may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub pid_ns: u64,
    pub time_ns: u64,
    pub pid: u32,
    pub start: u64,
}

impl Owner {
    /// The start of the names of this owner's entries; the system follows.
    pub fn prefix(&self) -> String {
        format!("{PREFIX}{self}-")
    }

    /// The owner a build entry's name encodes, or None for any other name (another tool's,
    /// or one of an older binfmtctl that named only the pid: those are never judged).
    pub fn of_entry(name: &str) -> Option<Owner> {
        let mut fields = name.strip_prefix(PREFIX)?.splitn(5, '-');
        let mut number = || -> Option<u64> {
            let f = fields.next()?;
            // Plain decimal only: "+1" or "01" would be a second spelling of one owner.
            if f.is_empty()
                || !f.bytes().all(|b| b.is_ascii_digit())
                || (f.len() > 1 && f.starts_with('0'))
            {
                return None;
            }
            f.parse().ok()
        };
        let owner = Owner {
            pid_ns: number()?,
            time_ns: number()?,
            pid: u32::try_from(number()?).ok()?,
            start: number()?,
        };
        let system = fields.next()?;
        (!system.is_empty()).then_some(owner)
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}-{}-{}",
            self.pid_ns, self.time_ns, self.pid, self.start
        )
    }
}

/// What /proc says about a pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// No such process.
    Absent,
    /// A process (or thread) with this start time; `exited` when it is a zombie, which never
    /// runs again.
    Process { start: u64, exited: bool },
    /// /proc could not be read (permissions, hidepid, ...) of a process that exists, or it
    /// could not be told whether it exists: nothing can be told.
    Unreadable,
}

/// Whether an entry's owner still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The owner runs, or it cannot be told: the entry stays.
    Keep,
    /// The owner is gone: its entry is a leftover.
    Gone,
}

/// Judge an entry's owner from what `me` (the judging process) sees of its pid. Only an owner
/// in my own pid namespace can be judged: elsewhere its pid means another process, and the
/// entry stays. A start time is only comparable within one time namespace.
pub fn judge(owner: &Owner, me: &Owner, seen: Seen) -> Verdict {
    if owner.pid_ns != me.pid_ns {
        return Verdict::Keep;
    }
    match seen {
        // Whichever process holds the pid, it never runs again; and if it is not the owner,
        // the owner is gone too, since one pid names one process at a time.
        Seen::Absent | Seen::Process { exited: true, .. } => Verdict::Gone,
        // Another process has the pid now.
        Seen::Process { start, .. } if owner.time_ns == me.time_ns && start != owner.start => {
            Verdict::Gone
        }
        Seen::Process { .. } | Seen::Unreadable => Verdict::Keep,
    }
}

/// This process, as its entries' names will say; an error when /proc cannot tell.
pub fn current() -> io::Result<Owner> {
    let inode = |ns: &str| std::fs::metadata(format!("/proc/self/ns/{ns}")).map(|m| m.ino());
    let time_ns = match inode("time") {
        // Linux < 5.6 or without CONFIG_TIME_NS: one time for everyone.
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        other => other?,
    };
    let start = procfs::process::Process::myself()
        .and_then(|p| p.stat())
        .map_err(io::Error::other)?
        .starttime;
    Ok(Owner {
        pid_ns: inode("pid")?,
        time_ns,
        pid: std::process::id(),
        start,
    })
}

/// True when /proc shows the pids of this process's own pid namespace (not an ancestor's,
/// whose pids differ): /proc/self/status then lists one pid in NSpid, ours.
pub fn proc_is_ours() -> bool {
    procfs::process::Process::myself()
        .and_then(|p| p.status())
        .is_ok_and(|s| {
            s.nspid.is_some_and(|ids| {
                ids.len() == 1 && u32::try_from(ids[0]).ok() == Some(std::process::id())
            })
        })
}

/// What /proc says about one pid.
pub fn look(pid: u32) -> Seen {
    use procfs::ProcError;
    let Ok(pid) = i32::try_from(pid) else {
        return Seen::Absent;
    };
    match procfs::process::Process::new(pid).and_then(|p| p.stat()) {
        Ok(s) => Seen::Process {
            start: s.starttime,
            exited: matches!(s.state, 'Z' | 'X'),
        },
        // /proc mounted with hidepid=invisible hides other users' processes as if they did
        // not exist: only kill(pid, 0) tells "no such process" (ESRCH) from "not yours"
        // (EPERM). Signal 0 sends nothing; the pid is of /proc's namespace, ours
        // (`proc_is_ours`).
        Err(ProcError::NotFound(_)) => {
            match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
                Err(nix::errno::Errno::ESRCH) => Seen::Absent,
                _ => Seen::Unreadable,
            }
        }
        Err(_) => Seen::Unreadable,
    }
}

/// The entries among `names` whose build is gone, with their owner.
pub fn leftovers(names: &[EntryName]) -> Vec<(EntryName, Owner)> {
    let builds: Vec<(EntryName, Owner)> = names
        .iter()
        .filter_map(|n| Some((n.clone(), Owner::of_entry(n.as_str())?)))
        .collect();
    // No build entries (the usual table): no /proc reads, `apply` stays a few milliseconds.
    if builds.is_empty() || !proc_is_ours() {
        return Vec::new();
    }
    let Ok(me) = current() else {
        return Vec::new();
    };
    builds
        .into_iter()
        .filter(|(_, owner)| judge(owner, &me, look(owner.pid)) == Verdict::Gone)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: Owner = Owner {
        pid_ns: 4_026_531_836,
        time_ns: 4_026_531_834,
        pid: 700,
        start: 9000,
    };

    #[test]
    fn names_round_trip_and_stay_within_the_kernels_limit() {
        let widest = Owner {
            pid_ns: u64::MAX,
            time_ns: u64::MAX,
            pid: u32::MAX,
            start: u64::MAX,
        };
        for owner in [ME, widest] {
            let name = format!("{}mips64el-linuxabin32", owner.prefix());
            assert!(name.parse::<EntryName>().is_ok(), "{name}");
            assert_eq!(Owner::of_entry(&name), Some(owner), "{name}");
        }
        assert_eq!(
            ME.prefix(),
            "binfmtctl-build-4026531836-4026531834-700-9000-"
        );
    }

    #[test]
    fn only_build_entry_names_encode_an_owner() {
        let some = |pid_ns, time_ns, pid, start| {
            Some(Owner {
                pid_ns,
                time_ns,
                pid,
                start,
            })
        };
        for (name, want) in [
            ("binfmtctl-build-1-2-3-4-riscv64-linux", some(1, 2, 3, 4)),
            ("binfmtctl-build-1-0-3-4-x86_64-linux", some(1, 0, 3, 4)),
            // An older binfmtctl's name: the pid alone, never judged.
            ("binfmtctl-build-1234-riscv64-linux", None),
            ("binfmtctl-build-1-2-3-4-", None),
            ("binfmtctl-build-1-2-3-4", None),
            ("binfmtctl-build-1-2-x-4-riscv64-linux", None),
            ("binfmtctl-build-1-2--4-riscv64-linux", None),
            ("binfmtctl-build-1-2-+3-4-riscv64-linux", None),
            ("binfmtctl-build-1-2-03-4-riscv64-linux", None),
            ("binfmtctl-build-1-2-4294967296-4-riscv64-linux", None),
            (
                "binfmtctl-build-1-2-3-99999999999999999999-riscv64-linux",
                None,
            ),
            ("binfmtctl-riscv64-linux", None),
            ("qemu-riscv64", None),
            ("riscv64-linux", None),
        ] {
            assert_eq!(Owner::of_entry(name), want, "{name}");
        }
    }

    #[test]
    fn only_an_owner_seen_gone_in_my_namespaces_is_gone() {
        let owner = Owner {
            pid: 42,
            start: 500,
            ..ME
        };
        let elsewhere = Owner { pid_ns: 1, ..owner };
        let other_time = Owner {
            time_ns: 1,
            ..owner
        };
        let alive = |start| Seen::Process {
            start,
            exited: false,
        };
        let zombie = |start| Seen::Process {
            start,
            exited: true,
        };
        for (what, o, seen, want) in [
            ("no such pid", owner, Seen::Absent, Verdict::Gone),
            ("running", owner, alive(500), Verdict::Keep),
            ("pid reused", owner, alive(501), Verdict::Gone),
            ("pid reused earlier", owner, alive(10), Verdict::Gone),
            ("a zombie", owner, zombie(500), Verdict::Gone),
            ("unreadable", owner, Seen::Unreadable, Verdict::Keep),
            (
                "other pid ns, absent",
                elsewhere,
                Seen::Absent,
                Verdict::Keep,
            ),
            ("other pid ns, reused", elsewhere, alive(1), Verdict::Keep),
            ("other time ns", other_time, alive(1), Verdict::Keep),
            (
                "other time ns, absent",
                other_time,
                Seen::Absent,
                Verdict::Gone,
            ),
            (
                "other time ns, a zombie",
                other_time,
                zombie(1),
                Verdict::Gone,
            ),
            ("myself", ME, alive(ME.start), Verdict::Keep),
        ] {
            assert_eq!(judge(&o, &ME, seen), want, "{what}");
        }
    }

    #[test]
    fn this_process_runs_and_a_reaped_child_is_gone() {
        // Reads this test process's own /proc entries, which every Linux has.
        let me = current().unwrap();
        assert_eq!(me.pid, std::process::id());
        assert!(proc_is_ours(), "/proc is not this pid namespace's");
        assert_eq!(judge(&me, &me, look(me.pid)), Verdict::Keep);
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = Owner {
            pid: child.id(),
            ..me
        };
        child.wait().unwrap();
        let name =
            |o: &Owner| -> EntryName { format!("{}riscv64-linux", o.prefix()).parse().unwrap() };
        let elsewhere = Owner { pid_ns: 1, ..dead };
        assert_eq!(
            leftovers(&[name(&me), name(&dead), name(&elsewhere)]),
            vec![(name(&dead), dead)]
        );
    }
}
