//! `tripline app …`

use clap::Subcommand;
use tripline_engine::app::{ClusterRef, NewApplication, Pin, Source};
use tripline_engine::deploy::live::{RolloutState, Workload};
use tripline_engine::error::ErrorBody;

use crate::{Context, output};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an application that deploys a template
    Create {
        /// Application name (lower-case letters, digits and '-')
        name: String,
        /// The template it deploys (at its latest version)
        #[arg(long)]
        template: String,
        /// Namespace for its namespaced objects
        #[arg(long, short = 'n', default_value = "default")]
        namespace: String,
        /// A kubeconfig context to deploy to [default: the built-in sandbox cluster]
        #[arg(long)]
        context: Option<String>,
        /// Delete objects that a new template version no longer has
        #[arg(long)]
        prune: bool,
    },
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
}

pub fn run(cx: &mut Context, command: Command) -> Result<(), ErrorBody> {
    match command {
        Command::Create {
            name,
            template,
            namespace,
            context,
            prune,
        } => {
            let new = NewApplication {
                name,
                cluster: context.map_or(ClusterRef::Sandbox, |name| ClusterRef::Context { name }),
                namespace,
                source: Source::Template {
                    template,
                    pin: Pin::Latest,
                },
                prune,
            };
            let app = cx.tripline.create_app(&new)?;
            if cx.json {
                return cx.print_json(&app);
            }
            say!(
                "Created application {} (template {}, {} cluster, namespace {}).",
                app.name,
                app.source.template().unwrap_or("-"),
                app.cluster,
                app.namespace
            );
            Ok(())
        }
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
                    format!("template {}", app.source.template().unwrap_or("-")),
                ]);
            }
            say_raw!("{}", output::table(&rows));
            Ok(())
        }
        Command::Show { name } => {
            let app = cx.tripline.app(&name)?;
            if cx.json {
                return cx.print_json(&app);
            }
            say!("Name:       {}", app.name);
            say!("Cluster:    {}", app.cluster);
            say!("Namespace:  {}", app.namespace);
            say!(
                "Source:     template {} (latest version)",
                app.source.template().unwrap_or("-")
            );
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
