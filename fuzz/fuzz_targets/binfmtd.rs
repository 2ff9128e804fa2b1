//! binfmt.d files (`binfmtctl import`, ownership of entries): parsing never panics, and every
//! registration read from one round-trips like a register line.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match binfmtctl::binfmt::binfmtd::parse(text) {
        Ok(regs) => {
            let mut last = 0;
            for (line, reg) in &regs {
                assert!(
                    *line > last && *line <= text.lines().count(),
                    "line numbers"
                );
                last = *line;
                binfmtctl_fuzz::registration_round_trips(reg);
                binfmtctl_fuzz::use_registration(reg, data);
            }
        }
        Err((line, err)) => {
            assert!(line >= 1 && line <= text.lines().count(), "{line}: {err}");
            let _ = err.to_string();
        }
    }
});
