//! The binfmtctl command (all of it in the library: `commands::main`).

fn main() -> std::process::ExitCode {
    binfmtctl::commands::main()
}
