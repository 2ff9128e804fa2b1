//! Properties shared by the fuzz targets: what must hold for every input a parser accepts.

use std::sync::OnceLock;

use binfmtctl::model::profile::Profiles;
use binfmtctl::binfmt::{Entry, Registration};

/// The built-in profiles, parsed once.
///
/// # Panics
///
/// When the built-in profiles do not parse (a finding: `binfmtctl` could not start).
pub fn profiles() -> &'static Profiles {
    static P: OnceLock<Profiles> = OnceLock::new();
    P.get_or_init(|| Profiles::builtin().expect("the built-in profiles parse"))
}

/// A registration that parsed must survive every conversion binfmtctl makes of it:
/// formatting to the register line and parsing again gives the same registration (and the
/// same line), and the entry file the kernel would print for it reads back as the same
/// registration (the read-back `enable` does after writing).
///
/// # Panics
///
/// When any of that does not hold: libFuzzer records the input as a crash.
pub fn registration_round_trips(reg: &Registration) {
    let line = reg.to_string();
    let again: Registration = line
        .parse()
        .unwrap_or_else(|e| panic!("format(parse(x)) = {line:?} does not parse: {e}"));
    assert_eq!(&again, reg, "parse(format(r)) != r for {line:?}");
    assert_eq!(again.to_string(), line, "formatting is not stable");
    reg.validate().expect("a parsed registration validates");

    let text = Entry::render(reg, true);
    let entry = Entry::parse(reg.name.clone(), &text)
        .unwrap_or_else(|e| panic!("the entry file for {line:?} does not parse: {e}\n{text}"));
    let mut expected = reg.clone();
    expected.flags = reg.flags.effective();
    assert_eq!(
        entry.registration(),
        expected,
        "entry file of {line:?}:\n{text}"
    );
    assert!(entry.registration().same_effect(reg));
    assert!(entry.enabled && entry.unknown_flags.is_empty());
}

/// Exercise what binfmtctl does with a registration read from anywhere: matching headers,
/// recognising the system.
pub fn use_registration(reg: &Registration, header: &[u8]) {
    let _ = reg.matcher.matches_header(header);
    let _ = reg.same_effect(reg);
    let _ = profiles().recognise(reg);
}
