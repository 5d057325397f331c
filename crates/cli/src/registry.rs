//! `tripline registry …`: credentials per registry host, each host's rate-limit budget, and a
//! repository's real tags.

use std::io::{IsTerminal as _, Read as _};

use clap::Subcommand;
use tripline_engine::api::{RegistryBudget, RegistryHostStatus};
use tripline_engine::error::{Code, ErrorBody};

use crate::{Context, output};

/// The longest password or token read from stdin.
const PASSWORD_LIMIT: u64 = 64 * 1024;

/// `tripline registry …`
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a username and password (or access token) against a registry, then keep them
    /// in the secret store for that host
    Login {
        /// The registry host (`ghcr.io`, `docker.io`, `registry.local:5000`)
        host: String,
        /// The username
        #[arg(long, short)]
        username: String,
        /// Read the password or token from stdin (it is never taken as an argument, which
        /// other users could see)
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Forget the credentials kept for a registry host
    Logout {
        /// The registry host
        host: String,
    },
    /// Every registry host triggers use: whose credentials, the rate-limit budget left, the
    /// last failure
    Status,
    /// List a repository's tags, as its registry does
    Tags {
        /// The repository (`nginx`, `ghcr.io/org/app`, `registry.local:5000/team/api`)
        repository: String,
    },
}

/// Runs `tripline registry …`.
pub fn run(cx: &mut Context, command: Command) -> Result<(), ErrorBody> {
    match command {
        Command::Login {
            host,
            username,
            password_stdin: _,
        } => {
            let password = read_password()?;
            let login = cx.block_on(cx.tripline.registry_login(&host, &username, &password))?;
            if cx.json {
                return cx.print_json(&login);
            }
            if login.checked {
                say!(
                    "Logged in to {} as {username}; the credentials are kept in the {}.",
                    login.host,
                    login.credentials
                );
            } else {
                say!(
                    "{} asked for no credentials, so they could not be checked; they are kept in \
                     the {} all the same.",
                    login.host,
                    login.credentials
                );
            }
            Ok(())
        }
        Command::Logout { host } => {
            let after = cx.tripline.registry_logout(&host)?;
            if cx.json {
                return cx.print_json(&after);
            }
            say!("Forgot the credentials kept for {}.", after.host);
            if !matches!(
                after.credentials,
                tripline_engine::api::CredentialSource::None
            ) {
                say!(
                    "Requests to it still use credentials from {}.",
                    after.credentials
                );
            }
            Ok(())
        }
        Command::Status => {
            let hosts = cx.tripline.registry_status()?;
            if cx.json {
                return cx.print_json(&hosts);
            }
            print_status(&hosts);
            Ok(())
        }
        Command::Tags { repository } => {
            let tags = cx.block_on(cx.tripline.registry_tags(&repository))?;
            if cx.json {
                return cx.print_json(&tags);
            }
            for tag in &tags.tags {
                say!("{tag}");
            }
            Ok(())
        }
    }
}

/// The password from stdin: its first line, which must not be empty.
fn read_password() -> Result<String, ErrorBody> {
    let mut stdin = std::io::stdin().lock();
    if stdin.is_terminal() {
        return Err(ErrorBody::new(
            Code::InputMissing,
            "--password-stdin reads the password from standard input: pipe it in (`echo \"$TOKEN\" \
             | tripline registry login HOST --username U --password-stdin`)",
        ));
    }
    let mut bytes = Vec::new();
    stdin
        .by_ref()
        .take(PASSWORD_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ErrorBody::new(Code::InputIo, format!("cannot read standard input: {e}")))?;
    if bytes.len() as u64 > PASSWORD_LIMIT {
        return Err(ErrorBody::new(
            Code::InputInvalid,
            format!(
                "the password on standard input is longer than {} KiB",
                PASSWORD_LIMIT / 1024
            ),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        ErrorBody::new(
            Code::InputInvalid,
            "the password on standard input is not UTF-8 text",
        )
    })?;
    let password = text.lines().next().unwrap_or("").to_owned();
    if password.is_empty() {
        return Err(ErrorBody::new(
            Code::InputMissing,
            "standard input is empty: give the password or token on it",
        ));
    }
    Ok(password)
}

fn print_status(hosts: &[RegistryHostStatus]) {
    if hosts.is_empty() {
        say!(
            "No registry yet: image triggers name none, and none was logged in to \
             (`tripline registry login HOST`)."
        );
        return;
    }
    let mut rows = vec![vec![
        "HOST".to_owned(),
        "CREDENTIALS".to_owned(),
        "BUDGET".to_owned(),
        "TRIGGERS".to_owned(),
    ]];
    for host in hosts {
        rows.push(vec![
            host.host.clone(),
            match &host.credentials_error {
                Some(_) => "unusable (see below)".to_owned(),
                None => host.credentials.to_string(),
            },
            budget(host.budget.as_ref()),
            if host.triggers.is_empty() {
                "-".to_owned()
            } else {
                host.triggers.join(", ")
            },
        ]);
    }
    say_raw!("{}", output::table(&rows));
    for host in hosts {
        if let Some(error) = &host.credentials_error {
            say!("{}: credentials: {error}", host.host);
        }
        if let Some(error) = &host.last_error {
            let at = host.last_error_at.as_deref().unwrap_or("?");
            say!("{}: last failure at {at}: {error}", host.host);
        }
    }
}

/// `76/100 left (window 6h)`, `retry after …`, or `-` when the registry reports no limit.
fn budget(budget: Option<&RegistryBudget>) -> String {
    let Some(budget) = budget else {
        return "-".to_owned();
    };
    let mut text = match (budget.remaining, budget.limit) {
        (Some(remaining), Some(limit)) => format!("{remaining}/{limit} left"),
        (Some(remaining), None) => format!("{remaining} left"),
        (None, Some(limit)) => format!("limit {limit}"),
        (None, None) => String::new(),
    };
    if let Some(window) = budget.window_seconds {
        let window = if window % 3600 == 0 {
            format!("{}h", window / 3600)
        } else if window % 60 == 0 {
            format!("{}m", window / 60)
        } else {
            format!("{window}s")
        };
        text.push_str(&format!(" per {window}"));
    }
    if let Some(retry_at) = &budget.retry_at {
        if !text.is_empty() {
            text.push_str("; ");
        }
        text.push_str(&format!("retry after {retry_at}"));
    }
    if text.is_empty() {
        "-".to_owned()
    } else {
        text
    }
}
