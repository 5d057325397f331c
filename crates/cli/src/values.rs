//! `tripline app values …`: a Helm application's values, versioned like templates. A new
//! values version is rendered by the application's next deploy.

use std::path::PathBuf;

use clap::Subcommand;
use tripline_engine::error::ErrorBody;
use tripline_engine::store::ValuesSaved;

use crate::{Context, input, output};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a values version (by default the latest)
    Show {
        /// Application name
        name: String,
        /// The values version [default: the latest]
        #[arg(long = "version", value_name = "N")]
        number: Option<u32>,
    },
    /// Edit the latest values in $EDITOR, making a new version
    Edit {
        /// Application name
        name: String,
        /// What changed, recorded on the version
        #[arg(short, long, default_value = "")]
        message: String,
    },
    /// Set the values from a file ('-' for stdin), making a new version
    Set {
        /// Application name
        name: String,
        /// The YAML values
        #[arg(short, long, value_name = "FILE")]
        file: PathBuf,
        /// What changed, recorded on the version
        #[arg(short, long, default_value = "")]
        message: String,
    },
    /// List the values versions
    History {
        /// Application name
        name: String,
    },
    /// Compare two values versions (by default the latest with the one before)
    Diff {
        /// Application name
        name: String,
        /// The older version [default: the one before TO]
        from: Option<u32>,
        /// The newer version [default: the latest]
        to: Option<u32>,
    },
}

pub fn run(cx: &mut Context, command: Command) -> Result<(), ErrorBody> {
    match command {
        Command::Show { name, number } => {
            let values = cx.tripline.values(&name, number)?;
            if cx.json {
                return cx.print_json(&values);
            }
            say_raw!("{}", values.content);
            if !values.content.is_empty() && !values.content.ends_with('\n') {
                say!();
            }
            Ok(())
        }
        Command::Edit { name, message } => {
            let latest = cx.tripline.values(&name, None)?;
            let Some((edited, kept)) = input::edit(&name, &latest.content)? else {
                say!(
                    "No changes: the values are still version {}.",
                    latest.summary.number
                );
                return Ok(());
            };
            match cx.tripline.save_values(&name, &edited, &message) {
                Ok(saved) => {
                    let _ = std::fs::remove_file(&kept);
                    report(cx, &name, &saved)
                }
                Err(mut body) => {
                    body.message = format!(
                        "{}\nYour edit is kept in {}; fix it and run: tripline app values set {name} -f {}",
                        body.message,
                        kept.display(),
                        kept.display()
                    );
                    Err(body)
                }
            }
        }
        Command::Set {
            name,
            file,
            message,
        } => {
            let text = input::text(input::read(&file)?)?;
            let saved = cx.tripline.save_values(&name, &text, &message)?;
            report(cx, &name, &saved)
        }
        Command::History { name } => {
            let versions = cx.tripline.values_versions(&name)?;
            if cx.json {
                return cx.print_json(&versions);
            }
            let mut rows = vec![
                ["VERSION", "ORIGIN", "CREATED", "MESSAGE"]
                    .map(str::to_owned)
                    .to_vec(),
            ];
            for v in &versions {
                rows.push(vec![
                    v.number.to_string(),
                    v.origin.as_str().to_owned(),
                    v.created_at
                        .get(..19)
                        .unwrap_or(&v.created_at)
                        .replace('T', " "),
                    v.message.clone(),
                ]);
            }
            say_raw!("{}", output::table(&rows));
            Ok(())
        }
        Command::Diff { name, from, to } => {
            let to = match to {
                Some(n) => n,
                None => cx.tripline.values(&name, None)?.summary.number,
            };
            let from = from.unwrap_or(to.saturating_sub(1).max(1));
            let diff = cx.tripline.diff_values(&name, from, to)?;
            if cx.json {
                return cx.print_json(&diff);
            }
            if diff.diff.is_empty() {
                say!("Values versions {from} and {to} are the same.");
            } else {
                say_raw!("{}", diff.diff);
            }
            Ok(())
        }
    }
}

fn report(cx: &Context, name: &str, saved: &ValuesSaved) -> Result<(), ErrorBody> {
    if cx.json {
        return cx.print_json(saved);
    }
    match saved {
        ValuesSaved::Created { version } => say!(
            "Saved values version {} of {name}; `tripline deploy {name}` renders the chart with it.",
            version.number
        ),
        ValuesSaved::Unchanged { version } => say!(
            "No changes: the values are still version {}.",
            version.number
        ),
    }
    Ok(())
}
