//! The `tripline` command line.

fn main() -> std::process::ExitCode {
    tripline::cli::main()
}
