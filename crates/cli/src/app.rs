//! `tripline app …`

use std::io::{BufRead as _, IsTerminal as _};
use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand};
use tripline_engine::api::{NewGitApplication, NewHelmApplication};
use tripline_engine::app::{Application, ClusterRef, NewApplication, Pin, Source};
use tripline_engine::deploy::live::{RolloutState, Workload};
use tripline_engine::error::{Code, ErrorBody};
use tripline_engine::source::Revision;
use tripline_engine::source::git::GitSource;

use crate::{Context, input, output, values};

/// The environment variable a source's password or token is read from.
const PASSWORD_ENV: &str = "TRIPLINE_SOURCE_PASSWORD";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an application that deploys a template, a Git repository's manifests or a
    /// Helm chart
    Create(Box<CreateArgs>),
    /// List applications
    List,
    /// Show one application
    Show {
        /// Application name
        name: String,
    },
    /// Show an application's workloads and pods as its cluster reports them now, and their
    /// health (Healthy, Updating, A pod cannot start, Unavailable)
    Status {
        /// Application name
        name: String,
    },
    /// Put an application on hold: trigger calls answer 409 and start nothing
    Hold {
        /// Application name
        name: String,
        /// Why (shown to callers and in access records)
        #[arg(long, default_value = "held by an operator")]
        reason: String,
    },
    /// Lift an application's hold
    Unhold {
        /// Application name
        name: String,
    },
    /// Delete an application (its template stays)
    Delete {
        /// Application name
        name: String,
    },
    /// Show, edit and list a Helm application's values
    #[command(subcommand)]
    Values(values::Command),
}

/// `tripline app create`: exactly one of --template, --git and --helm-repo.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["template", "git", "helm_repo"])))]
pub struct CreateArgs {
    /// Application name (lower-case letters, digits and '-')
    name: String,
    /// The template it deploys (at its latest version)
    #[arg(long)]
    template: Option<String>,
    /// A Git repository to deploy manifests from (https://, http://, git:// or file://)
    #[arg(long, value_name = "URL")]
    git: Option<String>,
    /// The branch, tag or commit to follow [default: main]
    #[arg(long = "ref", value_name = "REF", requires = "git")]
    reference: Option<String>,
    /// The directory of manifests in the repository [default: the top]
    #[arg(long, value_name = "DIR", requires = "git")]
    path: Option<String>,
    /// A Helm chart repository (https://…, with an index.yaml) or OCI registry path (oci://…)
    #[arg(long, value_name = "URL", requires = "chart")]
    helm_repo: Option<String>,
    /// The chart's name in the repository
    #[arg(long, value_name = "NAME", requires = "helm_repo")]
    chart: Option<String>,
    /// A chart version or range ('1.2.3', '^1.2', '>=1, <2') [default: the newest stable]
    #[arg(long = "version", value_name = "RANGE", requires = "helm_repo")]
    chart_version: Option<String>,
    /// The chart's values, a YAML file ('-' for stdin) [default: the chart's own]
    #[arg(long, value_name = "FILE", requires = "helm_repo")]
    values: Option<PathBuf>,
    /// Talk plain HTTP (no TLS) to an oci:// registry off this machine (loopback registries
    /// always get plain HTTP); no password is sent over it
    #[arg(long, requires = "helm_repo")]
    plain_http: bool,
    /// A user name for the repository or registry; the password or token comes from
    /// --password-stdin or $TRIPLINE_SOURCE_PASSWORD
    #[arg(long, value_name = "USER", conflicts_with = "template")]
    username: Option<String>,
    /// Read the repository's password or token from the first line of stdin
    #[arg(long, conflicts_with = "template")]
    password_stdin: bool,
    /// Namespace for its namespaced objects
    #[arg(long, short = 'n', default_value = "default")]
    namespace: String,
    /// A kubeconfig context to deploy to [default: the built-in sandbox cluster]
    #[arg(long)]
    context: Option<String>,
    /// Delete objects that a new version no longer has
    #[arg(long)]
    prune: bool,
}

/// The password or token: from stdin when asked, else from the environment.
fn password(from_stdin: bool) -> Result<Option<String>, ErrorBody> {
    if from_stdin {
        if std::io::stdin().is_terminal() {
            return Err(ErrorBody::new(
                Code::InputMissing,
                "--password-stdin reads the password from a pipe: \
                 printf '%s' \"$TOKEN\" | tripline app create …",
            ));
        }
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| {
            ErrorBody::new(
                Code::InputIo,
                format!("cannot read the password from standard input: {e}"),
            )
        })?;
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        return Ok((!line.is_empty()).then_some(line));
    }
    Ok(std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty()))
}

fn create(cx: &mut Context, args: CreateArgs) -> Result<(), ErrorBody> {
    let cluster = args
        .context
        .map_or(ClusterRef::Sandbox, |name| ClusterRef::Context { name });
    let app = if let Some(template) = args.template {
        let new = NewApplication {
            name: args.name,
            cluster,
            namespace: args.namespace,
            source: Source::Template {
                template,
                pin: Pin::Latest,
            },
            prune: args.prune,
        };
        cx.tripline.create_app(&new)?
    } else if let Some(url) = args.git {
        let new = NewGitApplication {
            name: args.name,
            cluster,
            namespace: args.namespace,
            git: GitSource {
                url,
                reference: args.reference.unwrap_or_else(|| "main".into()),
                path: args.path.unwrap_or_default(),
            },
            prune: args.prune,
            username: args.username,
            password: password(args.password_stdin)?,
        };
        cx.block_on(cx.tripline.create_git_app(new))?
    } else {
        if args.password_stdin && args.values.as_deref() == Some(std::path::Path::new("-")) {
            return Err(ErrorBody::new(
                Code::InputInvalid,
                "--password-stdin and --values - both read standard input: give the values as \
                 a file, or the password in $TRIPLINE_SOURCE_PASSWORD",
            ));
        }
        let password = password(args.password_stdin)?;
        let values = match &args.values {
            Some(path) => input::text(input::read(path)?)?,
            None => String::new(),
        };
        let new = NewHelmApplication {
            name: args.name,
            cluster,
            namespace: args.namespace,
            repository: args.helm_repo.unwrap_or_default(),
            chart: args.chart.unwrap_or_default(),
            version: args.chart_version.unwrap_or_default(),
            plain_http: args.plain_http,
            values,
            prune: args.prune,
            username: args.username,
            password,
        };
        cx.block_on(cx.tripline.create_helm_app(new))?
    };
    if cx.json {
        return cx.print_json(&app);
    }
    let revision = cx.tripline.source_revision(&app.name)?;
    let from = match &revision {
        Some(revision) => format!("{}, read {revision}", describe(&app.source)),
        None => describe(&app.source),
    };
    say!(
        "Created application {} ({from}, {} cluster, namespace {}).",
        app.name,
        app.cluster,
        app.namespace
    );
    Ok(())
}

/// The source in words.
fn describe(source: &Source) -> String {
    match source {
        Source::Template { template, .. } => format!("template {template}"),
        Source::Git { git, .. } => {
            let path = match git.path.trim_matches('/') {
                "" | "." => String::new(),
                path => format!(", directory {path}"),
            };
            format!("Git {} at {}{path}", git.url, git.reference)
        }
        Source::Helm { helm, .. } => {
            let version = match helm.version.trim() {
                "" => "newest stable version".to_owned(),
                range => format!("version {range}"),
            };
            format!(
                "Helm chart {} from {}, {version}",
                helm.chart, helm.repository
            )
        }
    }
}

/// What `tripline app show --json` prints: the application and the revisions (a commit, a
/// chart version and digest) its latest and its deployed versions were read from.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Shown {
    #[serde(flatten)]
    app: Application,
    /// What the template's latest version was read from.
    #[serde(skip_serializing_if = "Option::is_none")]
    latest: Option<Revision>,
    /// What the last successful release deployed was read from.
    #[serde(skip_serializing_if = "Option::is_none")]
    deployed: Option<Revision>,
}

/// A revision with its full commit id or digest.
fn full(revision: &Revision) -> String {
    match revision {
        Revision::Git { commit, reference } => format!("commit {commit} of {reference}"),
        Revision::Helm {
            chart,
            version,
            digest,
        } => format!("chart {chart} {version} ({digest})"),
    }
}

pub fn run(cx: &mut Context, command: Command) -> Result<(), ErrorBody> {
    match command {
        Command::Create(args) => create(cx, *args),
        Command::Values(command) => values::run(cx, command),
        Command::List => {
            let apps = cx.tripline.apps()?;
            if cx.json {
                return cx.print_json(&apps);
            }
            if apps.is_empty() {
                say!(
                    "No applications yet. Create one with: tripline app create NAME --template TEMPLATE"
                );
                return Ok(());
            }
            let mut rows = vec![vec![
                "NAME".into(),
                "CLUSTER".into(),
                "NAMESPACE".into(),
                "SOURCE".into(),
            ]];
            for app in &apps {
                rows.push(vec![
                    app.name.clone(),
                    app.cluster.to_string(),
                    app.namespace.clone(),
                    describe(&app.source),
                ]);
            }
            say_raw!("{}", output::table(&rows));
            Ok(())
        }
        Command::Show { name } => {
            let app = cx.tripline.app(&name)?;
            let latest = cx.tripline.source_revision(&name)?;
            let deployed = cx.tripline.deployed_revision(&name)?;
            if cx.json {
                return cx.print_json(&Shown {
                    app,
                    latest,
                    deployed,
                });
            }
            say!("Name:       {}", app.name);
            say!("Cluster:    {}", app.cluster);
            say!("Namespace:  {}", app.namespace);
            match &app.source {
                Source::Template { template, .. } => {
                    say!("Source:     template {template} (latest version)")
                }
                source => say!("Source:     {}", describe(source)),
            }
            if !matches!(app.source, Source::Template { .. }) {
                say!(
                    "Deployed:   {}",
                    deployed.as_ref().map_or("nothing yet".to_owned(), full)
                );
                if latest.is_some() && latest != deployed {
                    say!(
                        "Latest:     {} (deployed by the next deploy)",
                        latest.as_ref().map_or(String::new(), full)
                    );
                }
            }
            say!("Prune:      {}", if app.prune { "yes" } else { "no" });
            if let Some(reason) = &app.hold {
                say!("On hold:    {reason}");
            }
            say!("Created:    {}", app.created_at);
            Ok(())
        }
        Command::Status { name } => status(cx, &name),
        Command::Hold { name, reason } => {
            let app = cx.tripline.hold_app(&name, Some(&reason))?;
            if cx.json {
                return cx.print_json(&app);
            }
            say!(
                "Application {name} is on hold: its triggers answer 409 until `tripline app unhold {name}`."
            );
            Ok(())
        }
        Command::Unhold { name } => {
            let app = cx.tripline.hold_app(&name, None)?;
            if cx.json {
                return cx.print_json(&app);
            }
            say!("Application {name} is no longer on hold.");
            Ok(())
        }
        Command::Delete { name } => {
            cx.tripline.delete_app(&name)?;
            if cx.json {
                return cx.print_json(&serde_json::json!({"deleted": name}));
            }
            say!("Deleted application {name}.");
            Ok(())
        }
    }
}

/// What `tripline app status --json` prints.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    app: String,
    cluster: String,
    namespace: String,
    /// `null` when the application has no workloads in the cluster.
    rollout: Option<RolloutState>,
    workloads: Vec<Workload>,
}

fn status(cx: &mut Context, name: &str) -> Result<(), ErrorBody> {
    let app = cx.tripline.app(name)?;
    let workloads = cx.block_on(cx.tripline.workloads(name))?;
    let rollout = RolloutState::of(&workloads);
    if cx.json {
        return cx.print_json(&Status {
            app: app.name,
            cluster: app.cluster.to_string(),
            namespace: app.namespace,
            rollout,
            workloads,
        });
    }
    let Some(rollout) = rollout else {
        say!(
            "{} has no workloads in namespace {} of the {} cluster: deploy it with `tripline deploy {}`.",
            app.name,
            app.namespace,
            app.cluster,
            app.name
        );
        return Ok(());
    };
    say!(
        "{}: {}, {} of {} replicas ready ({} cluster, namespace {})",
        app.name,
        rollout.health.label(),
        rollout.ready,
        rollout.desired,
        app.cluster,
        app.namespace
    );
    say!();
    let mut rows = vec![
        [
            "WORKLOAD",
            "HEALTH",
            "READY",
            "UPDATED",
            "AVAILABLE",
            "IMAGES",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    let mut pods = vec![
        ["POD", "WORKLOAD", "PHASE", "READY", "RESTARTS", "WAITING"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for w in &workloads {
        let workload = format!("{}/{}", w.kind, w.name);
        rows.push(vec![
            workload.clone(),
            w.health.label().to_owned(),
            format!("{}/{}", w.ready, w.desired),
            w.updated.to_string(),
            w.available.to_string(),
            w.images.join(", "),
        ]);
        for pod in &w.pods {
            pods.push(vec![
                pod.name.clone(),
                workload.clone(),
                pod.phase.clone(),
                if pod.ready { "yes" } else { "no" }.to_owned(),
                pod.restarts.to_string(),
                pod.waiting.clone().unwrap_or_default(),
            ]);
        }
    }
    say_raw!("{}", output::table(&rows));
    if pods.len() > 1 {
        say!();
        say_raw!("{}", output::table(&pods));
    }
    Ok(())
}
