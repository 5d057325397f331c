//! `tripline deploy`, `tripline releases`, `tripline rollback`, `tripline cluster …`.

use std::io::IsTerminal as _;
use std::time::Duration;

use clap::{Args, Subcommand};
use tripline_engine::api::Deploying;
use tripline_engine::app::{Application, ClusterRef};
use tripline_engine::deploy::worker::Event;
use tripline_engine::deploy::{
    Action, Options, Progress, ResourceOutcome, rollout::Rollout, short,
};
use tripline_engine::error::{Code, ErrorBody};
use tripline_engine::store::{Release, ReleaseStatus};

use crate::{Context, output};

/// `tripline deploy` arguments.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The application
    app: String,
    #[command(flatten)]
    options: OptionArgs,
}

/// How to deploy.
#[derive(Debug, Args)]
pub struct OptionArgs {
    /// Take over fields that other field managers own instead of failing on conflicts
    #[arg(long)]
    force_conflicts: bool,
    /// How long to wait for rollouts, in seconds
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    timeout: u64,
    /// Apply and return without waiting for rollouts
    #[arg(long)]
    no_wait: bool,
    /// Fail a rollout once a new pod has waited this long in a state it cannot leave by
    /// itself (ImagePullBackOff, CrashLoopBackOff, …), in seconds
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    stuck_after: u64,
}

impl OptionArgs {
    fn options(&self) -> Options {
        Options {
            force_conflicts: self.force_conflicts,
            wait: !self.no_wait,
            timeout: Duration::from_secs(self.timeout.max(1)),
            stuck_after: Duration::from_secs(self.stuck_after.max(1)),
            ..Options::default()
        }
    }
}

/// `tripline rollback` arguments.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The application
    app: String,
    /// The template version to return to
    #[arg(long, value_name = "VERSION")]
    to: u32,
    #[command(flatten)]
    options: OptionArgs,
}

/// `tripline cluster …`
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// List the sandbox and your kubeconfig contexts
    List,
    /// Show one cluster: its server, namespace, and the applications that use it
    Show {
        /// `sandbox` or a kubeconfig context name
        name: String,
    },
}

/// Deploys `app` and follows it to the end.
pub fn deploy(cx: &mut Context, args: DeployArgs) -> Result<(), ErrorBody> {
    let application = cx.tripline.app(&args.app)?;
    let options = args.options.options();
    let release = cx.block_on(async {
        let deploying = cx.tripline.deploy_with(&args.app, &options).await?;
        follow(cx, &application, deploying).await
    })?;
    finish(cx, release)
}

/// Rolls the application's template back (a new version) and deploys it.
pub fn rollback(cx: &mut Context, args: RollbackArgs) -> Result<(), ErrorBody> {
    let application = cx.tripline.app(&args.app)?;
    let options = args.options.options();
    let release = cx.block_on(async {
        let (outcome, deploying) = cx
            .tripline
            .rollback_with(&args.app, args.to, &options)
            .await?;
        if !cx.json {
            say!(
                "Template {}: version {} now equals version {}.",
                outcome.version().template,
                outcome.version().number,
                args.to
            );
        }
        follow(cx, &application, deploying).await
    })?;
    finish(cx, release)
}

/// Shows the release's progress until it finishes or Ctrl-C; returns its id.
async fn follow(
    cx: &Context,
    application: &Application,
    mut deploying: Deploying,
) -> Result<i64, ErrorBody> {
    let queued = deploying.release.clone();
    let mut view = ProgressView::new(cx.color, cx.json);
    view.line(format!(
        "Deploying {} (release {}) to the {} cluster…",
        application.name, queued.number, application.cluster
    ));
    loop {
        tokio::select! {
            event = deploying.next() => match event {
                Some(event) => view.show(&event),
                None => return Ok(queued.id),
            },
            _ = tokio::signal::ctrl_c() => {
                view.line("Interrupted: stopping the deploy.".into());
                return Err(ErrorBody::new(
                    Code::DeployInterrupted,
                    "the deploy was interrupted (Ctrl-C); its release is marked interrupted",
                ));
            }
        }
    }
}

/// Prints the finished release (with `--json`) and fails unless it succeeded.
fn finish(cx: &Context, id: i64) -> Result<(), ErrorBody> {
    let release = cx.tripline.release(id)?;
    if cx.json {
        cx.print_json(&release)?;
    }
    match release.status {
        ReleaseStatus::Succeeded => Ok(()),
        _ => Err(
            ErrorBody::new(Code::DeployFailed, release.message.clone()).with_details(
                // The number is the one the text output and `tripline releases` show; the id
                // is the database's, unique across applications.
                serde_json::json!({
                    "app": release.app,
                    "release": release.number,
                    "releaseId": release.id,
                    "reason": release.reason,
                }),
            ),
        ),
    }
}

/// Prints deploy events: lines for what is done, one updating line for rollouts on a terminal.
struct ProgressView {
    color: bool,
    quiet: bool,
    terminal: bool,
    pending: bool,
}

impl ProgressView {
    fn new(color: bool, quiet: bool) -> Self {
        ProgressView {
            color,
            quiet,
            terminal: std::io::stdout().is_terminal(),
            pending: false,
        }
    }

    fn line(&mut self, text: String) {
        if self.quiet {
            return;
        }
        if self.pending {
            say_raw!("\r\x1b[K");
            self.pending = false;
        }
        say!("{text}");
    }

    fn transient(&mut self, text: String) {
        if self.quiet {
            return;
        }
        if self.terminal {
            say_raw!("\r\x1b[K{text}");
            self.pending = true;
        } else {
            say!("{text}");
        }
    }

    fn mark(&self, ok: bool) -> String {
        let (symbol, color) = if ok { ("✓", "32") } else { ("✗", "31") };
        if self.color {
            format!("\x1b[{color}m{symbol}\x1b[0m")
        } else {
            symbol.to_owned()
        }
    }

    fn show(&mut self, event: &Event) {
        match event {
            Event::Queued { .. } => {}
            Event::Started { version, resources } => self.line(format!(
                "  template version {version}, {resources} object{}",
                if *resources == 1 { "" } else { "s" }
            )),
            Event::Progress {
                progress: Progress::Resource(outcome),
            } => {
                let text = describe(outcome);
                let ok = outcome.action != Action::Failed;
                let mark = self.mark(ok);
                self.line(format!("  {mark} {text}"));
            }
            Event::Progress {
                progress: Progress::Rollout { id, rollout },
            } => match rollout {
                Rollout::Progressing { message, .. } => {
                    self.transient(format!("  … {}: {message}", short(id)))
                }
                Rollout::Complete { message } => {
                    let mark = self.mark(true);
                    self.line(format!("  {mark} {}: {message}", short(id)))
                }
                Rollout::Failed { message, .. } => {
                    let mark = self.mark(false);
                    self.line(format!("  {mark} {}: {message}", short(id)))
                }
            },
            Event::Finished {
                status, message, ..
            } => {
                let label = match status {
                    ReleaseStatus::Succeeded => "Succeeded",
                    ReleaseStatus::Superseded => "Superseded",
                    _ => "Failed",
                };
                self.line(format!("{label}: {message}"));
            }
        }
    }
}

fn describe(outcome: &ResourceOutcome) -> String {
    let verb = match outcome.action {
        Action::Created => "created",
        Action::Applied => "applied",
        Action::Pruned => "pruned",
        Action::Kept => "kept",
        Action::Failed => "failed",
    };
    let generation = outcome
        .generation
        .map(|g| format!(" (generation {g})"))
        .unwrap_or_default();
    let note = match (&outcome.action, &outcome.message) {
        (Action::Applied, _) | (_, None) => String::new(),
        (_, Some(m)) => format!(": {m}"),
    };
    format!("{verb} {}{generation}{note}", short(&outcome.id))
}

/// `tripline releases APP`
pub fn releases(cx: &mut Context, app: &str, limit: usize) -> Result<(), ErrorBody> {
    let releases = cx.tripline.releases(app, limit)?;
    if cx.json {
        return cx.print_json(&releases);
    }
    if releases.is_empty() {
        say!("No releases of {app} yet. Deploy it with: tripline deploy {app}");
        return Ok(());
    }
    let mut rows = vec![
        [
            "RELEASE", "STATUS", "VERSION", "CAUSE", "STARTED", "DURATION", "MESSAGE",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect::<Vec<_>>(),
    ];
    for release in &releases {
        rows.push(vec![
            release.number.to_string(),
            release.status.as_str().to_owned(),
            release
                .template_version
                .map(|v| v.to_string())
                .unwrap_or_else(|| "-".into()),
            release.cause.to_string(),
            release
                .started_at
                .as_deref()
                .unwrap_or(&release.queued_at)
                .get(..19)
                .unwrap_or("")
                .replace('T', " "),
            duration(release),
            release.message.clone(),
        ]);
    }
    say_raw!("{}", output::table(&rows));
    Ok(())
}

fn duration(release: &Release) -> String {
    let parse = |t: &Option<String>| t.as_deref().and_then(|t| t.parse::<jiff::Timestamp>().ok());
    match (parse(&release.started_at), parse(&release.finished_at)) {
        (Some(start), Some(end)) => {
            let millis = end.as_millisecond() - start.as_millisecond();
            format!("{:.1}s", millis as f64 / 1000.0)
        }
        _ => "-".into(),
    }
}

/// `tripline cluster …`
pub fn cluster(cx: &mut Context, command: ClusterCommand) -> Result<(), ErrorBody> {
    let usage = cx.tripline.cluster_usage()?;
    if let Some(error) = usage.kubeconfig_error {
        return Err(ErrorBody::new(Code::ClusterKubeconfig, error));
    }
    let list: Vec<_> = usage.clusters.into_iter().map(|u| u.cluster).collect();
    let apps = cx.tripline.apps()?;
    let users = |name: &str| -> Vec<String> {
        apps.iter()
            .filter(|a| match &a.cluster {
                ClusterRef::Sandbox => name == "sandbox",
                ClusterRef::Context { name: c } => c == name,
            })
            .map(|a| a.name.clone())
            .collect()
    };
    match command {
        ClusterCommand::List => {
            if cx.json {
                return cx.print_json(&list);
            }
            let mut rows = vec![vec![
                "NAME".to_owned(),
                "SERVER".into(),
                "NAMESPACE".into(),
                "APPS".into(),
            ]];
            for cluster in &list {
                let name = if cluster.current {
                    format!("{} (current)", cluster.name)
                } else {
                    cluster.name.clone()
                };
                let server = match (&cluster.server, cluster.name.as_str()) {
                    (Some(server), _) => server.clone(),
                    (None, "sandbox") => "built in (starts when needed)".into(),
                    (None, _) => "-".into(),
                };
                rows.push(vec![
                    name,
                    server,
                    cluster.namespace.clone().unwrap_or_else(|| "-".into()),
                    users(&cluster.name).join(","),
                ]);
            }
            say_raw!("{}", output::table(&rows));
            Ok(())
        }
        ClusterCommand::Show { name } => {
            let Some(cluster) = list.iter().find(|c| c.name == name) else {
                return Err(ErrorBody::new(
                    Code::ClusterNotFound,
                    format!("there is no cluster named {name:?} (see `tripline cluster list`)"),
                ));
            };
            if cx.json {
                return cx
                    .print_json(&serde_json::json!({"cluster": cluster, "apps": users(&name)}));
            }
            say!("Name:       {}", cluster.name);
            say!(
                "Server:     {}",
                cluster
                    .server
                    .as_deref()
                    .unwrap_or("built in (starts when needed)")
            );
            say!(
                "Namespace:  {}",
                cluster.namespace.as_deref().unwrap_or("-")
            );
            say!("Current:    {}", if cluster.current { "yes" } else { "no" });
            say!("Apps:       {}", users(&name).join(", "));
            Ok(())
        }
    }
}
