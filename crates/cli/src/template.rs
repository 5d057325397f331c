//! `tripline template …`

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use tripline_engine::error::{Code, ErrorBody};
use tripline_engine::patch::{Patch, PatchType, Target};
use tripline_engine::store::SaveOutcome;

use crate::{Context, input, output};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a template from a YAML file (or stdin); it becomes version 1
    Create {
        /// Template name (lower-case letters, digits and '-')
        name: String,
        /// Multi-document Kubernetes YAML; '-' for stdin
        #[arg(short, long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Why, recorded on the version
        #[arg(short, long, default_value = "")]
        message: String,
        /// The Kubernetes version the template targets (e.g. 1.33): fields it does not have
        /// are refused. Default: the newest Tripline knows
        #[arg(long = "kubernetes", value_name = "VERSION")]
        kubernetes: Option<String>,
    },
    /// Show or set the Kubernetes version a template's versions are checked against
    Target {
        /// Template name
        name: String,
        /// The version to target (e.g. 1.33); without it, prints the current one
        version: Option<String>,
        /// Target the newest version Tripline knows again
        #[arg(long, conflicts_with = "version")]
        newest: bool,
    },
    /// List templates with their latest version
    List,
    /// Print a version's YAML (the latest unless --version)
    Show {
        /// Template name
        name: String,
        /// Version number
        #[arg(long = "version", short = 'v', value_name = "N")]
        number: Option<u32>,
    },
    /// Save a new version from a file or stdin, or edit the latest in $EDITOR
    Edit {
        /// Template name
        name: String,
        /// The new YAML; '-' for stdin. Without it (and with a terminal), opens $EDITOR
        #[arg(short, long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// What changed, recorded on the version
        #[arg(short, long, default_value = "")]
        message: String,
    },
    /// List a template's versions
    Versions {
        /// Template name
        name: String,
    },
    /// Compare two versions (by default the latest with the one before)
    Diff {
        /// Template name
        name: String,
        /// The older version [default: the one before TO]
        from: Option<u32>,
        /// The newer version [default: the latest]
        to: Option<u32>,
    },
    /// Patch the latest version, making a new one
    Patch(PatchArgs),
    /// Make a new version equal to an older one
    Rollback {
        /// Template name
        name: String,
        /// The version to return to
        #[arg(long, value_name = "N")]
        to: u32,
        /// Why, recorded on the version
        #[arg(short, long, default_value = "")]
        message: String,
    },
    /// Delete a template and all its versions (refused while an application uses it)
    Delete {
        /// Template name
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct PatchArgs {
    /// Template name
    name: String,
    /// The patch, JSON or YAML; '-' for stdin
    #[arg(short, long, value_name = "FILE", conflicts_with = "patch")]
    file: Option<PathBuf>,
    /// The patch, inline
    #[arg(short, long, value_name = "PATCH")]
    patch: Option<String>,
    /// The patch format: resource is the trigger body {"resource":{"<kind>":{…}}}
    #[arg(long = "type", value_enum, default_value_t = Format::Resource)]
    format: Format,
    /// Kind of the object to patch (strategic, merge and json formats)
    #[arg(long)]
    kind: Option<String>,
    /// metadata.name of the object to patch (strategic, merge and json formats)
    #[arg(long = "resource-name", value_name = "NAME")]
    resource_name: Option<String>,
    /// metadata.namespace of the object, when names repeat across namespaces
    #[arg(long)]
    namespace: Option<String>,
    /// What changed, recorded on the version
    #[arg(short, long, default_value = "")]
    message: String,
    /// Show what would change, save nothing
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// {"resource":{"<kind>":{"metadata":{"name":…},…}}}, merged strategically
    Resource,
    /// A Kubernetes strategic merge patch of one object
    Strategic,
    /// An RFC 7396 JSON merge patch of one object
    Merge,
    /// An RFC 6902 JSON Patch of one object
    Json,
}

impl From<Format> for PatchType {
    fn from(format: Format) -> Self {
        match format {
            Format::Resource => PatchType::Resource,
            Format::Strategic => PatchType::Strategic,
            Format::Merge => PatchType::Merge,
            Format::Json => PatchType::Json,
        }
    }
}

pub fn run(cx: &mut Context, command: Command) -> Result<(), ErrorBody> {
    match command {
        Command::Target {
            name,
            version,
            newest,
        } => {
            let target = if version.is_some() || newest {
                cx.tripline.set_template_target(&name, version.as_deref())?
            } else {
                cx.tripline.template_target(&name)?
            };
            if cx.json {
                return cx.print_json(&serde_json::json!({"template": name, "kubernetes": target}));
            }
            say!("Template {name} targets Kubernetes {target}.");
            Ok(())
        }
        Command::Create {
            name,
            file,
            message,
            kubernetes,
        } => {
            let bytes =
                input::read_file_or_stdin(file.as_deref(), "template")?.ok_or_else(|| {
                    ErrorBody::new(
                        Code::InputMissing,
                        "give the template YAML with --file FILE (or pipe it on stdin)",
                    )
                })?;
            let text = input::text(bytes)?;
            let version = cx.tripline.create_template_targeting(
                &name,
                &text,
                &message,
                kubernetes.as_deref(),
            )?;
            if cx.json {
                return cx.print_json(&version);
            }
            say!(
                "Created template {name} (version 1, {} object{}).",
                version.resources,
                plural(version.resources as usize)
            );
            Ok(())
        }
        Command::List => {
            let templates = cx.tripline.templates()?;
            if cx.json {
                return cx.print_json(&templates);
            }
            if templates.is_empty() {
                say!(
                    "No templates yet. Create one with: tripline template create NAME -f FILE.yaml"
                );
                return Ok(());
            }
            let mut rows = vec![strings(&["NAME", "VERSION", "OBJECTS", "UPDATED", "APPS"])];
            for t in &templates {
                rows.push(vec![
                    t.name.clone(),
                    t.latest.number.to_string(),
                    t.latest.resources.to_string(),
                    short_time(&t.latest.created_at),
                    t.apps.join(","),
                ]);
            }
            say_raw!("{}", output::table(&rows));
            Ok(())
        }
        Command::Show { name, number } => {
            let version = cx.tripline.version(&name, number)?;
            if cx.json {
                return cx.print_json(&version);
            }
            say_raw!("{}", version.content);
            Ok(())
        }
        Command::Edit {
            name,
            file,
            message,
        } => edit(cx, &name, file, &message),
        Command::Versions { name } => {
            let versions = cx.tripline.versions(&name)?;
            if cx.json {
                return cx.print_json(&versions);
            }
            let mut rows = vec![strings(&[
                "VERSION", "ORIGIN", "CREATED", "OBJECTS", "MESSAGE",
            ])];
            for v in &versions {
                rows.push(vec![
                    v.number.to_string(),
                    v.origin.as_str().to_owned(),
                    short_time(&v.created_at),
                    v.resources.to_string(),
                    v.message.clone(),
                ]);
            }
            say_raw!("{}", output::table(&rows));
            Ok(())
        }
        Command::Diff { name, from, to } => {
            let to_number = cx.tripline.version(&name, to)?.summary.number;
            let from_number = match from {
                Some(n) => n,
                None if to_number > 1 => to_number - 1,
                None => {
                    return Err(ErrorBody::new(
                        Code::InputInvalid,
                        format!(
                            "template {name:?} has only version 1: there is nothing to compare"
                        ),
                    ));
                }
            };
            let result = cx
                .tripline
                .diff_versions(&name, from_number, to_number)?
                .diff;
            if cx.json {
                return cx.print_json(&serde_json::json!({
                    "template": name, "from": from_number, "to": to_number, "diff": result
                }));
            }
            say!("{name}: version {from_number} → {to_number}");
            say_raw!("{}", output::diff(&result, cx.color));
            Ok(())
        }
        Command::Patch(args) => patch_command(cx, args),
        Command::Rollback { name, to, message } => {
            let outcome = cx.tripline.rollback_template(&name, to, &message)?;
            report(cx, &name, &outcome)
        }
        Command::Delete { name } => {
            cx.tripline.delete_template(&name)?;
            if cx.json {
                return cx.print_json(&serde_json::json!({"deleted": name}));
            }
            say!("Deleted template {name} and all its versions.");
            Ok(())
        }
    }
}

fn edit(
    cx: &mut Context,
    name: &str,
    file: Option<PathBuf>,
    message: &str,
) -> Result<(), ErrorBody> {
    if let Some(bytes) = input::read_file_or_stdin(file.as_deref(), "template")? {
        let text = input::text(bytes)?;
        let outcome = cx.tripline.save_template(name, &text, message)?;
        return report(cx, name, &outcome);
    }
    let latest = cx.tripline.version(name, None)?;
    let Some((edited, kept)) = input::edit(name, &latest.content)? else {
        say!(
            "No changes: the template is still version {}.",
            latest.summary.number
        );
        return Ok(());
    };
    match cx.tripline.save_template(name, &edited, message) {
        Ok(outcome) => {
            let _ = std::fs::remove_file(&kept);
            report(cx, name, &outcome)
        }
        Err(mut body) => {
            body.message = format!(
                "{}\nYour edit is kept in {}; fix it and run: tripline template edit {name} -f {}",
                body.message,
                kept.display(),
                kept.display()
            );
            Err(body)
        }
    }
}

fn patch_command(cx: &mut Context, args: PatchArgs) -> Result<(), ErrorBody> {
    let bytes = match (&args.patch, &args.file) {
        (Some(inline), _) => inline.clone().into_bytes(),
        (None, file) => input::read_file_or_stdin(file.as_deref(), "patch")?.ok_or_else(|| {
            ErrorBody::new(
                Code::InputMissing,
                "give the patch with --patch '{…}', --file FILE, or on stdin",
            )
        })?,
    };
    let target = match (args.kind, args.resource_name) {
        (Some(kind), Some(name)) => Some(Target {
            kind,
            name,
            namespace: args.namespace,
            api_version: None,
        }),
        (None, None) => None,
        _ => {
            return Err(ErrorBody::new(
                Code::InputInvalid,
                "--kind and --resource-name go together",
            ));
        }
    };
    let parsed = Patch::parse(args.format.into(), &bytes, target).map_err(ErrorBody::from)?;
    if args.dry_run {
        // A dry run answers as the real patch would: a result that could not be saved fails.
        let preview = cx.tripline.preview_patch(&args.name, &parsed)?;
        if cx.json {
            return cx.print_json(&serde_json::json!({"dryRun": true, "diff": preview.diff}));
        }
        if preview.diff.is_empty() {
            say!("Dry run: the patch changes nothing.");
        } else {
            say!(
                "Dry run: the patch would make version {} with:",
                preview.version
            );
            say_raw!("{}", output::diff(&preview.diff, cx.color));
        }
        return Ok(());
    }
    let outcome = cx
        .tripline
        .patch_template(&args.name, &parsed, &args.message)?;
    report(cx, &args.name, &outcome)
}

fn report(cx: &Context, name: &str, outcome: &SaveOutcome) -> Result<(), ErrorBody> {
    if cx.json {
        return cx.print_json(outcome);
    }
    match outcome {
        SaveOutcome::Created { version, .. } => say!(
            "Saved {name} version {} ({}): {}",
            version.number,
            version.origin.as_str(),
            version.message
        ),
        SaveOutcome::Unchanged { version } => say!(
            "No changes: {name} version {} already has this content; no version was made.",
            version.number
        ),
    }
    Ok(())
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `2026-11-22T01:02:03.456Z` → `2026-11-22 01:02:03`.
fn short_time(rfc3339: &str) -> String {
    rfc3339
        .get(..19)
        .map(|t| t.replace('T', " "))
        .unwrap_or_else(|| rfc3339.to_owned())
}
