//! The `callbase` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    callbase::cli::main()
}
