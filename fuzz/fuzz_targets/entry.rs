//! The kernel's entry files (`/proc/sys/fs/binfmt_misc/<name>`): parsing never panics, and an
//! entry that parses renders to a file that parses to the same registration.
#![no_main]

use binfmtctl::binfmt::{Entry, EntryName};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let name: EntryName = "qemu-riscv64".parse().expect("a valid name");
    let Ok(entry) = Entry::parse(name.clone(), text) else {
        return;
    };
    let reg = entry.registration();
    binfmtctl_fuzz::use_registration(&reg, data);
    let rendered = Entry::render(&reg, entry.enabled);
    let again = Entry::parse(name, &rendered)
        .unwrap_or_else(|e| panic!("a rendered entry does not parse: {e}\n{rendered}"));
    assert_eq!(again.enabled, entry.enabled);
    let mut expected = reg.clone();
    expected.flags = reg.flags.effective();
    assert_eq!(again.registration(), expected, "{rendered}");
    // When the entry is one binfmtctl could write, the register line round-trips too.
    if reg.validate().is_ok() {
        binfmtctl_fuzz::registration_round_trips(&reg);
    }
});
