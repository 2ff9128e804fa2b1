# binfmtctl as a Nix package: the binary, its systemd unit (ExecStart pointing into the store),
# shell completions and the man page, all generated from the same clap definitions.
{ lib, rustPlatform, installShellFiles, util-linux }:

let
  manifest = (builtins.fromTOML (builtins.readFile ../Cargo.toml)).package;
in
rustPlatform.buildRustPackage {
  pname = manifest.name;
  version = manifest.version;
  # Not a local target/ (cargo's output, gigabytes): cleanSource leaves it in.
  src = lib.cleanSourceWith {
    src = lib.cleanSource ./..;
    filter = path: type: toString path != toString ../target;
  };
  cargoLock.lockFile = ../Cargo.lock;

  nativeBuildInputs = [ installShellFiles ];

  # .cargo/config.toml links glibc statically (a faster `binfmtctl run`, see BENCHMARKS.md);
  # nixpkgs' stdenv has no static glibc, and the store provides the shared one. A set RUSTFLAGS,
  # even empty, replaces the config's rustflags.
  env.RUSTFLAGS = "";

  # In the Nix sandbox there is no binfmt_misc to mount, no qemu-user-static, no cross
  # compiler and no user namespaces: the kernel-level and end-to-end tests cannot run there.
  # The unit tests (parsers, formatters, validation, planning, ELF, probes' ELF writer) do.
  cargoTestFlags = [ "--lib" ];
  # Two unit tests read real programs of the host (/bin/ls, qemu-riscv64-static), which the
  # sandbox does not have.
  checkFlags = [ "--skip=elf::tests::real_dynamic_executable" "--skip=elf::tests::real_static_executable" ];
  preCheck = ''
    echo "binfmtctl: running unit tests only; kernel-level tests need binfmt_misc, user namespaces and qemu-user,"
    echo "binfmtctl: which the Nix build sandbox lacks, and elf::tests::real_* read /bin/ls and qemu-riscv64-static,"
    echo "binfmtctl: which it does not have. Run them all with: bash scripts/test.sh"
  '';

  # ExecStopPost= calls mountpoint and umount by store path: NixOS gives services a PATH of
  # coreutils, findutils, gnugrep, gnused and systemd only, without util-linux.
  postInstall = ''
    install -Dm644 systemd/binfmtctl.service $out/lib/systemd/system/binfmtctl.service
    substituteInPlace $out/lib/systemd/system/binfmtctl.service \
      --replace-fail /usr/bin/binfmtctl $out/bin/binfmtctl \
      --replace-fail 'mountpoint -q' '${util-linux}/bin/mountpoint -q' \
      --replace-fail 'then umount' 'then ${util-linux}/bin/umount'
    installShellCompletion --cmd binfmtctl \
      --bash <($out/bin/binfmtctl completions bash) \
      --zsh <($out/bin/binfmtctl completions zsh) \
      --fish <($out/bin/binfmtctl completions fish)
    $out/bin/binfmtctl man > binfmtctl.1
    installManPage binfmtctl.1
  '';

  meta = {
    description = manifest.description;
    license = with lib.licenses; [ mit asl20 ];
    platforms = lib.platforms.linux;
    mainProgram = "binfmtctl";
  };
}
