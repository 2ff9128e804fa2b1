//! Profile files (`qemu-profiles/`, `/etc/binfmtctl/profiles.d/`): parsing never panics,
//! errors name the file, and a profile that parses gives a usable matcher.
#![no_main]

use std::path::Path;

use binfmtctl::model::profile::Profile;
use binfmtctl::binfmt::{Bytes, Flags, Matcher, Registration};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/etc/binfmtctl/profiles.d/x.toml");
    match Profile::parse(text, path) {
        Ok(p) => {
            let m = p.matcher();
            let Matcher::Magic {
                offset,
                magic,
                mask,
            } = &m
            else {
                panic!("a profile's matcher is a magic");
            };
            assert!(*offset + magic.len() <= 256 && !magic.is_empty());
            assert_eq!(mask.as_ref().map(Bytes::len), Some(magic.len()));
            for h in p.sample_headers() {
                let _ = m.matches_header(&h);
            }
            let _ = p.accepted_by(&m);
            let _ = p.names().count();
            let reg = Registration {
                name: p
                    .system
                    .parse()
                    .expect("the profile checked its system name"),
                matcher: m,
                interpreter: "/usr/bin/qemu-x-static".into(),
                flags: Flags::default(),
            };
            // Either registrable, or refused for its length (a 256-byte magic and mask).
            if reg.validate().is_ok() {
                binfmtctl_fuzz::registration_round_trips(&reg);
            }
        }
        Err(e) => assert!(e.to_string().starts_with(path.to_str().unwrap()), "{e}"),
    }
});
