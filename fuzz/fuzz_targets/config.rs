//! The config file (`/etc/binfmtctl/config.toml`): parsing never panics, errors name the
//! file, and a config that parses renders to a file that parses to the same config.
#![no_main]

use std::path::Path;

use binfmtctl::store::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/etc/binfmtctl/config.toml");
    match Config::parse(text, path) {
        Ok(config) => {
            // Rendering a parsed config cannot fail (plain strings and lists).
            let rendered = config
                .render()
                .unwrap_or_else(|e| panic!("a parsed config does not render: {e:#}"));
            let again = Config::parse(&rendered, path)
                .unwrap_or_else(|e| panic!("a rendered config does not parse: {e:#}\n{rendered}"));
            assert_eq!(again, config, "{rendered}");
            assert_eq!(again.render().ok().as_deref(), Some(rendered.as_str()));
        }
        Err(e) => assert!(
            e.to_string().starts_with("/etc/binfmtctl/config.toml"),
            "{e:#}"
        ),
    }
});
