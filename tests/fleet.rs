//! Issue 14, sections 1 and 2: bulk operations (`enable all`, comma lists, `disable` globs)
//! in private binfmt_misc instances, and the drop-in image for CI runners and clusters.

mod common;

use common::{ok, private, private_hello, scratch, stderr, stdout, As};

/// `enable all` and `enable --all`: every system with an installed interpreter that the host
/// does not run natively, armv6l and armv7l in one entry that records both names.
#[test]
fn enable_all_registers_every_installed_foreign_system_with_one_entry_for_armv6l_and_armv7l() {
    for all in ["all", "--all"] {
        let t = scratch();
        let out = private(
            As::Me,
            t.path(),
            &format!(
                "bfc enable {all} >/dev/null || exit 3\n\
                 ls /proc/sys/fs/binfmt_misc\n\
                 echo ==\n\
                 bfc systems --json"
            ),
        );
        let text = ok(&out);
        let (entries, systems) = text.split_once("==\n").expect("two parts");
        let entries: Vec<&str> = entries.lines().collect();
        let systems: serde_json::Value = serde_json::from_str(systems).expect("systems --json");
        for s in systems["systems"].as_array().expect("systems") {
            let name = s["system"].as_str().expect("system");
            let wanted =
                s["interpreter"].is_object() && s["native"] == false && !name.starts_with("wasm");
            if name == "armv7l-linux" {
                assert!(
                    !entries.contains(&name),
                    "{all}: armv7l-linux has its own entry: {entries:?}"
                );
            } else if wanted {
                assert!(
                    entries.contains(&name),
                    "{all}: {name} not registered: {entries:?}"
                );
            } else {
                assert!(
                    !entries.contains(&name),
                    "{all}: {name} registered: {entries:?}"
                );
            }
            if wanted {
                assert_eq!(s["configured"], true, "{all}: {name} not recorded: {s}");
            }
        }
        assert!(entries.contains(&"riscv64-linux") && entries.contains(&"aarch64-linux"));
        assert!(!entries.contains(&"x86_64-linux"), "{entries:?}");
        let config = std::fs::read_to_string(t.path().join("config.toml")).expect("config");
        assert!(
            config.contains(
                "system = \"armv6l-linux\"\nname = \"armv6l-linux\"\ninterpreter = \"/usr/bin/qemu-arm-static\"\nflags = \"PF\"\nalso = [\"armv7l-linux\"]\n"
            ),
            "{config}"
        );
    }
}

/// A comma list is a list; `all` beside names, or --name without a placeholder for several
/// systems, is bad input (exit 2) that says what to do.
#[test]
fn enable_takes_comma_lists_and_name_templates_and_refuses_misuse() {
    let (_t, hello, out) = private_hello(
        "bfc enable --runtime --name 'qemu-{cpu}' riscv64,arm64 >/dev/null || exit 3\n\
         ls /proc/sys/fs/binfmt_misc | grep -v -e register -e status\n\
         {hello}\n\
         bfc enable all,riscv64 2>&1; echo \"exit $?\"\n\
         bfc enable --name foo riscv64,arm64 2>&1; echo \"exit $?\"",
    );
    assert_eq!(
        ok(&out),
        "qemu-aarch64\nqemu-riscv64\nhello argv0={hello}\n\
         binfmtctl: error: `all` stands for every system with an installed interpreter; give either all or a list of \
         systems (all,riscv64), not both\nexit 2\n\
         binfmtctl: error: --name foo applies to one system; for several, make it a template ({cpu} or {system} stand \
         for each system: --name 'qemu-{cpu}'), or enable the systems one at a time\nexit 2\n"
            .replace("{hello}", &hello.display().to_string())
    );
}

/// `disable GLOB` removes binfmtctl's matching entries and leaves another tool's (they need
/// --name); `--dry-run` shows the matches and changes nothing; `--name GLOB` takes any entry.
#[test]
fn disable_globs_match_entry_names_and_leave_other_tools_entries_to_name() {
    let t = scratch();
    let out = private(
        As::Me,
        t.path(),
        r"bfc enable --name 'qemu-{cpu}' riscv64,arm64,s390x >/dev/null || exit 3
# Another tool's entry (Debian's name and line for mipsel).
echo ':qemu-mipsel:M::\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x08\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-mipsel-static:F' > /proc/sys/fs/binfmt_misc/register || exit 4
echo '-- dry run'
bfc disable --dry-run 'qemu-[ar]*' 2>&1
ls /proc/sys/fs/binfmt_misc | grep -c qemu-
echo '-- glob'
bfc disable 'qemu-*' 2>&1
ls /proc/sys/fs/binfmt_misc | grep qemu-
echo '-- --name glob'
bfc disable --name 'qemu-*' 2>&1
ls /proc/sys/fs/binfmt_misc | grep -c qemu-
echo '-- again'
bfc disable 'qemu-*' 2>&1; echo exit $?",
    );
    let want = format!(
        "-- dry run\n\
         # would write -1 to /proc/sys/fs/binfmt_misc/qemu-aarch64\n\
         # would remove qemu-aarch64 from {t}/config.toml\n\
         # would write -1 to /proc/sys/fs/binfmt_misc/qemu-riscv64\n\
         # would remove qemu-riscv64 from {t}/config.toml\n\
         4\n\
         -- glob\n\
         binfmtctl: warning: entry qemu-mipsel was not created by binfmtctl (interpreter /usr/bin/qemu-mipsel-static); \
         left alone. Remove it with --name qemu-mipsel if you mean to\n\
         # write -1 to /proc/sys/fs/binfmt_misc/qemu-s390x\n\
         # remove qemu-s390x from {t}/config.toml\n\
         # write -1 to /proc/sys/fs/binfmt_misc/qemu-aarch64\n\
         # remove qemu-aarch64 from {t}/config.toml\n\
         # write -1 to /proc/sys/fs/binfmt_misc/qemu-riscv64\n\
         # remove qemu-riscv64 from {t}/config.toml\n\
         qemu-mipsel\n\
         -- --name glob\n\
         # write -1 to /proc/sys/fs/binfmt_misc/qemu-mipsel\n\
         0\n\
         -- again\n\
         binfmtctl: no entry name matches qemu-*; nothing to disable for it (binfmtctl status lists the entries)\n\
         # nothing to disable: no such registration of binfmtctl's\n\
         exit 0\n",
        t = t.path().display()
    );
    assert_eq!(stdout(&out), want, "stderr:\n{}", stderr(&out));
}
