//! Register lines (`:name:type:offset:magic:mask:interpreter:flags`): parsing never panics,
//! and every line that parses formats to a line that parses to the same registration.
#![no_main]

use binfmtctl::binfmt::Registration;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(reg) = text.parse::<Registration>() {
        binfmtctl_fuzz::registration_round_trips(&reg);
        binfmtctl_fuzz::use_registration(&reg, data);
    }
});
