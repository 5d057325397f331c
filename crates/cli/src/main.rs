//! The `tripline` command line: argument parsing, input and output, exit codes.
//!
//! Each subcommand is a few lines over the engine's façade ([`Tripline`], the one the desktop
//! app calls), so every rule is enforced in one place whichever front end asks. A one-shot
//! command opens it with [`Tripline::open_for_command`]: the database only, with the secret
//! store found, the application's cluster reached and the deploy workers started by the first
//! method that needs them (`tripline template list` starts nothing). `tripline serve` opens it
//! whole ([`Tripline::open`]), as the desktop app does; `tripline sandbox` runs the sandbox
//! cluster itself. This crate adds only what a terminal needs: arguments, input, output and
//! exit codes. It depends on the engine and on no other Tripline crate, and it is the only
//! crate that builds `clap`, so the desktop app does without it.
//!
//! Reads print a human view, or JSON with `--json`. Errors print as a sentence, or as the
//! [`ErrorBody`] JSON with `--json`, and set the exit code from the error's class:
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success (including "no change") |
//! | 1 | internal error (database, file system) |
//! | 2 | bad command line |
//! | 3 | invalid input (YAML, patch, name) |
//! | 4 | not found (template, version, application) |
//! | 5 | conflict (name taken, template in use, database busy) |
//! | 6 | a deploy failed (the release says why) |

/// `println!` that ignores a closed stdout (`tripline … | head` must not panic).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `print!` that ignores a closed stdout.
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod app;
mod deploy;
mod input;
mod output;
mod registry;
mod sandbox;
mod serve;
mod status;
mod template;
mod trigger;
mod values;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use tripline_engine::api::{CommandOptions, Tripline};
use tripline_engine::error::{Code, ErrorBody};
use tripline_engine::secrets::{Choice, Secrets};

/// Tripline: versioned Kubernetes templates, patches and deploys.
#[derive(Debug, Parser)]
#[command(name = "tripline", version, about, long_about = None, after_help = EXIT_CODES)]
struct Cli {
    /// Where Tripline keeps its database [default: $TRIPLINE_DATA_DIR, else ~/.local/share/tripline]
    #[arg(long, global = true, value_name = "DIR", env = "TRIPLINE_DATA_DIR")]
    data_dir: Option<PathBuf>,

    /// Print machine-readable JSON instead of text (errors too, on stderr)
    #[arg(long, global = true)]
    json: bool,

    /// When to colour output
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,

    /// Where trigger tokens are kept: the OS keyring, owner-only files in the data dir, or
    /// the keyring when one answers and files otherwise
    #[arg(long, global = true, value_enum, default_value_t = SecretsChoice::Auto, env = "TRIPLINE_SECRETS")]
    secrets: SecretsChoice,

    /// How log lines on stderr (and in --log-file) are written; RUST_LOG chooses which
    /// (by default Tripline's at info, the rest at warn)
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "TRIPLINE_LOG_FORMAT")]
    log_format: LogFormat,

    /// Log to a file as well, rotated at 10 MiB, 5 kept: --log-file=PATH, or
    /// <data dir>/logs/tripline.log when given alone
    #[arg(long, global = true, value_name = "PATH", num_args = 0..=1, require_equals = true)]
    log_file: Option<Option<PathBuf>>,

    #[command(subcommand)]
    command: Command,
}

const EXIT_CODES: &str = "Exit codes: 0 success, 1 internal error, 2 bad command line, \
3 invalid input, 4 not found, 5 conflict (name taken, in use, busy), 6 deploy failed.";

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorChoice {
    /// When stdout is a terminal and NO_COLOR is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Where secrets live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SecretsChoice {
    /// The keyring if it answers, else files
    Auto,
    /// The OS keyring (Secret Service)
    Keyring,
    /// Owner-only files in <data dir>/secrets
    Files,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// One readable line per event
    Text,
    /// One JSON object per line (timestamp, level, target, message, fields)
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create, edit, patch, compare and roll back templates
    #[command(subcommand)]
    Template(template::Command),
    /// Create and inspect applications
    #[command(subcommand)]
    App(app::Command),
    /// Create and manage trigger URLs, and read their access records
    #[command(subcommand)]
    Trigger(trigger::Command),
    /// Log in to container registries, see their rate-limit budgets, list their tags
    #[command(subcommand)]
    Registry(registry::Command),
    /// Deploy an application's latest template version and follow its rollout
    Deploy(deploy::DeployArgs),
    /// List an application's releases
    Releases {
        /// The application
        app: String,
        /// How many, newest first
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Roll an application's template back to a version and deploy it
    Rollback(deploy::RollbackArgs),
    /// List kubeconfig contexts and the sandbox
    #[command(subcommand)]
    Cluster(deploy::ClusterCommand),
    /// Run the built-in sandbox Kubernetes API server and print its kubeconfig
    Sandbox(sandbox::SandboxArgs),
    /// Run the webhook listener and deploy workers without a window (for servers)
    Serve(serve::ServeArgs),
    /// Where Tripline keeps its data, the database's size, and the releases waiting
    Status,
}

/// What every command gets.
pub(crate) struct Context {
    /// The engine, opened for this command.
    tripline: Tripline,
    data_dir: PathBuf,
    json: bool,
    color: bool,
    secrets: SecretsChoice,
}

/// The secret store `--secrets` chooses, with the command line's advice when none answers.
fn find_secrets(choice: SecretsChoice, data_dir: &std::path::Path) -> Result<Secrets, ErrorBody> {
    let choice = match choice {
        SecretsChoice::Auto => Choice::Auto,
        SecretsChoice::Keyring => Choice::Keyring,
        SecretsChoice::Files => Choice::Files,
    };
    Secrets::detect(choice, data_dir).map_err(|e| {
        ErrorBody::new(
            Code::SecretsUnavailable,
            format!("{e}; use --secrets files on a machine without a keyring"),
        )
    })
}

impl Context {
    /// The secret store, chosen by `--secrets`.
    fn secrets(&self) -> Result<Secrets, ErrorBody> {
        find_secrets(self.secrets, &self.data_dir)
    }

    /// Runs `work` (which may reach a cluster and start deploy workers) on a runtime, then
    /// stops what it started.
    fn block_on<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, ErrorBody>>,
    ) -> Result<T, ErrorBody> {
        runtime()?.block_on(async {
            let result = work.await;
            self.tripline.shutdown().await;
            result
        })
    }

    /// Prints a value as pretty JSON.
    fn print_json<T: serde::Serialize>(&self, value: &T) -> Result<(), ErrorBody> {
        let mut stdout = std::io::stdout().lock();
        match serde_json::to_writer_pretty(&mut stdout, value) {
            Ok(()) => {
                let _ = writeln!(stdout);
                Ok(())
            }
            // The reader went away (`| head`): not our failure.
            Err(e) if e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe) => Ok(()),
            Err(e) => Err(ErrorBody::new(
                Code::CliIo,
                format!("cannot write output: {e}"),
            )),
        }
    }
}

/// Runs the command line and returns the process exit code.
fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let mut stderr = std::io::stderr().lock();
            if json {
                let _ = serde_json::to_writer_pretty(&mut stderr, &error);
                let _ = writeln!(stderr);
            } else {
                let _ = writeln!(stderr, "error: {}", error.message);
            }
            ExitCode::from(error.class().exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<(), ErrorBody> {
    let data_dir = match cli.data_dir {
        Some(dir) => dir,
        None => tripline_engine::store::default_data_dir().ok_or_else(|| {
            ErrorBody::new(
                Code::CliNoDataDir,
                "cannot find a home directory for Tripline's data: pass --data-dir or set \
                 TRIPLINE_DATA_DIR",
            )
        })?,
    };
    start_logging(cli.log_format, cli.log_file, &data_dir)?;
    let choice = cli.secrets;
    let secrets_dir = data_dir.clone();
    let tripline = Tripline::open_for_command(CommandOptions {
        data_dir: data_dir.clone(),
        find_secrets: Box::new(move || find_secrets(choice, &secrets_dir)),
        via: "cli",
        quiet: cli.json,
    })?;
    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            use std::io::IsTerminal as _;
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    };
    let mut context = Context {
        tripline,
        data_dir,
        json: cli.json,
        color,
        secrets: cli.secrets,
    };
    match cli.command {
        Command::Template(command) => template::run(&mut context, command),
        Command::App(command) => app::run(&mut context, command),
        Command::Trigger(command) => trigger::run(&mut context, command),
        Command::Registry(command) => registry::run(&mut context, command),
        Command::Deploy(args) => deploy::deploy(&mut context, args),
        Command::Releases { app, limit } => deploy::releases(&mut context, &app, limit),
        Command::Rollback(args) => deploy::rollback(&mut context, args),
        Command::Cluster(command) => deploy::cluster(&mut context, command),
        Command::Sandbox(args) => sandbox::run(&mut context, args),
        Command::Serve(args) => serve::run(&mut context, args),
        Command::Status => status::run(&mut context),
    }
}

/// Installs the logger: stderr, and the file `--log-file` names.
fn start_logging(
    format: LogFormat,
    file: Option<Option<PathBuf>>,
    data_dir: &std::path::Path,
) -> Result<(), ErrorBody> {
    use tripline_engine::logging::{FileLog, Format, Options};

    let format = match format {
        LogFormat::Text => Format::Text,
        LogFormat::Json => Format::Json,
    };
    let file = file.map(|path| {
        let default = FileLog::in_data_dir(data_dir, "tripline");
        match path {
            Some(path) => FileLog { path, ..default },
            None => default,
        }
    });
    tripline_engine::logging::init(&Options::from_env(format, file))
        .map_err(|e| ErrorBody::new(Code::CliIo, e.to_string()))
}

/// A runtime for a command that talks to a cluster (two workers: these commands wait on the
/// network, not the CPU).
fn runtime() -> Result<tokio::runtime::Runtime, ErrorBody> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            ErrorBody::new(
                Code::CliRuntime,
                format!("cannot start the async runtime: {e}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::Cli;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
