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

/// Issue 14, section 2: the image built from Containerfile (podman, offline, FROM scratch),
/// its root filesystem exported, and its entrypoint run from it as `docker run --privileged`
/// would: chrooted, with /proc and /dev, in a private binfmt_misc instance. podman cannot
/// start containers on these machines (domain notes, section 8), so the entrypoint runs
/// under chroot instead of `podman run`; everything it runs is the image's own.
#[test]
fn the_image_s_entrypoint_installs_lists_and_uninstalls_like_tonistiigi_binfmt() {
    let hello = common::hello_riscv64(true);
    let busybox = common::busybox_arm64();
    let t = scratch();
    let entrypoint = image_rootfs(t.path());
    let rootfs = t.path().join("rootfs");
    for (program, name) in [(&hello, "hello-riscv64"), (&busybox, "busybox-arm64")] {
        std::fs::copy(program, rootfs.join(name)).expect("copy a foreign program into the rootfs");
    }
    let run = entrypoint
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let out = private(
        As::Me,
        t.path(),
        &format!(
            "R=$T/rootfs\n\
             mount --rbind /proc \"$R/proc\" && mount --rbind /dev \"$R/dev\" || exit 3\n\
             entry() {{ chroot \"$R\" {run} \"$@\"; }}\n\
             echo '-- install'; entry --install riscv64,arm64 >/dev/null || exit 4\n\
             ls /proc/sys/fs/binfmt_misc | grep qemu-\n\
             chroot \"$R\" /hello-riscv64 a\n\
             chroot \"$R\" /busybox-arm64 echo busybox on arm64\n\
             echo '-- status'; entry\n\
             echo '-- uninstall'; entry --uninstall 'qemu-*' || exit 5\n\
             ls /proc/sys/fs/binfmt_misc | grep -c qemu-\n\
             chroot \"$R\" /hello-riscv64 2>&1 | sed 's/.*: //'"
        ),
    );
    let text = ok(&out);
    let status_start = text.find("-- status\n").expect("a status") + "-- status\n".len();
    let status_end = text.find("-- uninstall").expect("an uninstall");
    let status: serde_json::Value =
        serde_json::from_str(&text[status_start..status_end]).expect("the status is JSON");
    assert_eq!(
        status["emulators"],
        serde_json::json!(["qemu-aarch64", "qemu-riscv64"]),
        "{text}"
    );
    let supported = status["supported"].as_array().expect("supported");
    for platform in ["linux/amd64", "linux/arm64", "linux/riscv64"] {
        assert!(
            supported.contains(&platform.into()),
            "{platform} not in {status}"
        );
    }
    assert!(!supported.contains(&"linux/s390x".into()), "{status}");
    assert_eq!(
        &text[..status_start],
        "-- install\nqemu-aarch64\nqemu-riscv64\nhello argv0=/hello-riscv64 [a]\nbusybox on arm64\n-- status\n",
        "stderr:\n{}",
        stderr(&out)
    );
    let after = &text[status_end..];
    assert!(
        after.starts_with("-- uninstall\n# write -1 to /proc/sys/fs/binfmt_misc/qemu-aarch64\n# write -1 to /proc/sys/fs/binfmt_misc/qemu-riscv64\n"),
        "{after}"
    );
    assert!(after.contains("\"emulators\": []"), "{after}");
    // No entry runs it now: the kernel says ENOEXEC, and chroot's execvp, finding no /bin/sh
    // to try it as a script, ENOENT.
    assert!(after.ends_with("0\nNo such file or directory\n"), "{after}");
}

/// Build the image with scripts/build-image.sh (podman storage of its own under target/, so
/// no image or container is left in the machine's), export its root filesystem to
/// `dir/rootfs`, and give its entrypoint.
fn image_rootfs(dir: &std::path::Path) -> Vec<String> {
    use std::path::Path;
    use std::process::Command;

    let podman = common::require("podman", "podman");
    let store = Path::new(common::MANIFEST_DIR).join("target/podman");
    let opts = format!(
        "--root {s}/storage --runroot {s}/run --storage-driver vfs",
        s = store.display()
    );
    let podman_cmd = |args: &[&str]| {
        let mut c = Command::new(&podman);
        c.args(opts.split(' ')).args(args);
        c.output().expect("run podman")
    };
    let tag = "localhost/binfmtctl-fleet-test";
    let build = Command::new("bash")
        .arg(Path::new(common::MANIFEST_DIR).join("scripts/build-image.sh"))
        .args(["--binary", common::BIN, "--tag", tag])
        .env("PODMAN_OPTS", &opts)
        .output()
        .expect("run scripts/build-image.sh");
    assert!(
        build.status.success(),
        "podman could not build the image offline (scripts/build-image.sh; install podman with \
         `apt-get install --no-install-recommends podman`):\nstdout:\n{}\nstderr:\n{}",
        stdout(&build),
        stderr(&build)
    );
    let entrypoint = ok(&podman_cmd(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Entrypoint}}",
        tag,
    ]));
    let entrypoint: Vec<String> =
        serde_json::from_str(entrypoint.trim()).expect("the entrypoint as JSON");
    assert_eq!(entrypoint, ["/usr/bin/binfmtctl", "tonistiigi"]);
    let id = ok(&podman_cmd(&["create", tag])).trim().to_owned();
    let rootfs = dir.join("rootfs");
    std::fs::create_dir(&rootfs).expect("mkdir rootfs");
    let export = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{} {opts} export {id} | tar -x -C {}",
            podman.display(),
            rootfs.display()
        ))
        .output()
        .expect("export the image");
    ok(&podman_cmd(&["rm", &id]));
    ok(&export);
    ok(&podman_cmd(&["rmi", tag]));
    entrypoint
}

/// Issue 14, section 2: deploy/kubernetes/daemonset.yaml passes kubernetes-validate (PyPI,
/// in target/kubernetes-validate, installed by scripts/test-deps.sh) with --strict, and the
/// validator is not a rubber stamp: a misspelt field in a copy fails.
#[test]
fn the_daemonset_passes_kubernetes_validate() {
    use std::path::Path;
    use std::process::Command;

    let root = Path::new(common::MANIFEST_DIR);
    let validate = root.join("target/kubernetes-validate/bin/kubernetes-validate");
    assert!(
        validate.exists(),
        "{} is missing: run `bash scripts/test-deps.sh` as root (it installs kubernetes-validate from PyPI into a venv there)",
        validate.display()
    );
    let manifest = root.join("deploy/kubernetes/daemonset.yaml");
    let out = Command::new(&validate)
        .arg("--strict")
        .arg(&manifest)
        .output()
        .expect("run kubernetes-validate");
    assert!(
        ok(&out).contains("passed for resource daemonset/binfmtctl"),
        "{}",
        stdout(&out)
    );
    let text = std::fs::read_to_string(&manifest).expect("read the manifest");
    for wanted in [
        "kind: DaemonSet",
        "        kubernetes.io/os: linux\n",
        "      tolerations:\n        - operator: Exists\n",
        "          args: [\"--install\", \"all\"]\n",
        "            privileged: true",
        "image: registry.k8s.io/pause:",
    ] {
        assert!(
            text.contains(wanted),
            "{wanted:?} not in {}",
            manifest.display()
        );
    }
    let t = scratch();
    let broken = t.path().join("broken.yaml");
    std::fs::write(&broken, text.replace("nodeSelector:", "nodeSelecter:")).expect("write");
    let out = Command::new(&validate)
        .arg("--strict")
        .arg(&broken)
        .output()
        .expect("run kubernetes-validate");
    assert!(
        !out.status.success(),
        "a misspelt field passed: {}",
        stdout(&out)
    );
}
