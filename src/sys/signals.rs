//! The signal sets binfmtctl blocks, waits out or passes on: each defined here once.

use nix::sys::signal::{SigSet, Signal};

/// The signals a terminal or a CI runner sends to stop a program.
const STOP: [Signal; 4] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

/// The signals that stop a build: binfmtctl waits them out (the command gets them too) so it
/// can clean up and report, then dies the command's death.
pub fn stop() -> SigSet {
    STOP.into_iter().collect()
}

/// The signals a wrapper (the build's shim) passes on to the program it runs, so that whoever
/// signals the program (it sees the wrapper's pid) reaches it: the stop signals and the two
/// left to programs.
pub fn forwarded() -> SigSet {
    STOP.into_iter()
        .chain([Signal::SIGUSR1, Signal::SIGUSR2])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapper_passes_on_every_stop_signal_and_the_user_ones() {
        let (stop, forwarded) = (stop(), forwarded());
        for sig in Signal::iterator() {
            let user = matches!(sig, Signal::SIGUSR1 | Signal::SIGUSR2);
            assert_eq!(forwarded.contains(sig), stop.contains(sig) || user, "{sig}");
        }
        assert!(stop.contains(Signal::SIGINT) && !stop.contains(Signal::SIGUSR1));
    }
}
