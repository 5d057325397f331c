//! `tripline trigger …`

use clap::{Args, Subcommand, ValueEnum};
use tripline_engine::error::{Code, ErrorBody};
use tripline_engine::store::{Decision, NewTrigger, RecordFilter};
use tripline_engine::trigger::{ImageValues, TagFilter, TriggerKind, Verify};

use crate::{Context, output};

/// `tripline trigger …`
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a trigger; prints its URL (with the token) once
    Create(Box<CreateArgs>),
    /// List triggers
    List {
        /// Only this application's
        #[arg(long)]
        app: Option<String>,
    },
    /// Show one trigger (without its token)
    Show {
        /// Trigger name
        name: String,
    },
    /// Print the trigger's URL with its token (read from the secret store), and curl examples
    Url {
        /// Trigger name
        name: String,
        /// The base URL callers reach the listener at [default: the one the trigger was
        /// created with, else http://127.0.0.1:8787]
        #[arg(long, env = "TRIPLINE_PUBLIC_URL")]
        public_url: Option<String>,
    },
    /// Replace the token; the old URL stops working at once
    Rotate {
        /// Trigger name
        name: String,
        /// The base URL callers reach the listener at [default: the one the trigger was
        /// created with, else http://127.0.0.1:8787]
        #[arg(long, env = "TRIPLINE_PUBLIC_URL")]
        public_url: Option<String>,
    },
    /// Let the trigger act again
    Enable {
        /// Trigger name
        name: String,
    },
    /// Make calls answer 409 and do nothing
    Disable {
        /// Trigger name
        name: String,
    },
    /// Delete the trigger, its token and its access records
    Delete {
        /// Trigger name
        name: String,
    },
    /// Show access records, newest first
    Records {
        /// Only this trigger's (default: all, including calls with unknown tokens)
        name: Option<String>,
        /// Only records with this decision
        #[arg(long, value_enum)]
        decision: Option<DecisionArg>,
        /// How many
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Show one record in full
        #[arg(long, value_name = "ID", conflicts_with_all = ["name", "decision"])]
        id: Option<i64>,
    },
}

/// What kind of trigger to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// Redeploy (optionally patching the template with the call's body)
    Redeploy,
    /// Scale one workload in or out
    Scale,
    /// Follow image pushes from a registry webhook
    Image,
}

/// How an image trigger checks pushes with the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifyArg {
    /// The tag must exist in the registry; its digest is read from there
    Required,
    /// As required, but deploy unverified when the registry cannot be reached
    IfReachable,
    /// Believe the push as it is
    Off,
}

impl From<VerifyArg> for Verify {
    fn from(v: VerifyArg) -> Self {
        match v {
            VerifyArg::Required => Verify::Required,
            VerifyArg::IfReachable => Verify::IfReachable,
            VerifyArg::Off => Verify::Off,
        }
    }
}

/// A decision filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DecisionArg {
    /// Started a release
    Triggered,
    /// Valid but filtered out
    Untriggered,
    /// Nothing to do
    NoOp,
    /// Refused
    Rejected,
}

impl From<DecisionArg> for Decision {
    fn from(d: DecisionArg) -> Self {
        match d {
            DecisionArg::Triggered => Decision::Triggered,
            DecisionArg::Untriggered => Decision::Untriggered,
            DecisionArg::NoOp => Decision::NoOp,
            DecisionArg::Rejected => Decision::Rejected,
        }
    }
}

/// `tripline trigger create` arguments.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The application it acts on
    app: String,
    /// What it does
    #[arg(long, value_enum)]
    kind: KindArg,
    /// Its name [default: <app>-<kind>]
    #[arg(long)]
    name: Option<String>,
    /// Scale: the workload, as Kind/name (e.g. Deployment/web)
    #[arg(long, value_name = "KIND/NAME")]
    workload: Option<String>,
    /// Scale: never fewer replicas
    #[arg(long)]
    min: Option<u32>,
    /// Scale: never more replicas
    #[arg(long)]
    max: Option<u32>,
    /// Image: a repository to follow, as the template names it (repeatable)
    #[arg(long = "repository", value_name = "REPOSITORY")]
    repositories: Vec<String>,
    /// Image: only tags matching this regular expression (matched against the whole tag)
    #[arg(long, conflicts_with = "tags")]
    regex: Option<String>,
    /// Image: only these tags (comma-separated, at most 100)
    #[arg(long, value_delimiter = ',')]
    tags: Vec<String>,
    /// Image: only tags naming a version in this range, as npm writes ranges (^1.4, ~2.3.1,
    /// ">=1.0 <2", 1.x, *); a leading v and partial versions (1.4 is 1.4.0) are read
    #[arg(long, value_name = "RANGE", conflicts_with_all = ["regex", "tags"])]
    semver: Option<String>,
    /// Image, with --semver: pre-release versions (2.0.0-rc.1) pass too
    #[arg(long, requires = "semver")]
    prerelease: bool,
    /// Image: let a push lower a container's version (by default, when the deployed and the
    /// pushed tag are both versions, a lower one is refused and recorded)
    #[arg(long)]
    allow_downgrade: bool,
    /// Image: change only the container with this name (repeatable) [default: every container
    /// that uses a followed repository]; not for Helm applications
    #[arg(long = "container", value_name = "NAME")]
    containers: Vec<String>,
    /// Image: deploy tag@digest, the digest read from the registry (the default)
    #[arg(long, conflicts_with = "no_pin_digest")]
    pin_digest: bool,
    /// Image: deploy the tag alone, without its digest
    #[arg(long)]
    no_pin_digest: bool,
    /// Image: how a push is checked with the registry before it is acted on: `required`
    /// (the tag must exist there, its digest is read from there; an unreachable registry
    /// makes the push wait, then be refused), `if-reachable` (deploy unverified when the
    /// registry cannot be reached), `off` (believe the push)
    #[arg(long, value_enum, default_value_t = VerifyArg::Required)]
    verify: VerifyArg,
    /// Image: also watch the repositories, asking the registry every SECONDS (jittered)
    /// [default when given without a value: 300]
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "300")]
    watch: Option<u32>,
    /// Image: deploy a tag only once it has kept its digest this many minutes
    #[arg(long, value_name = "MINUTES")]
    maturing: Option<u32>,
    /// Image, Git applications: write new images to this branch (made from the tracked
    /// branch, tag or commit when it does not exist) instead of the tracked branch, and
    /// deploy that commit; the application keeps following its tracked reference
    #[arg(long, value_name = "BRANCH")]
    branch: Option<String>,
    /// Image, Helm applications: the values key the repository goes to, a dotted path
    /// [default: image.repository]; with --value-tag
    #[arg(
        long,
        value_name = "KEY",
        requires = "value_tag",
        conflicts_with = "value_image"
    )]
    value_repository: Option<String>,
    /// Image, Helm applications: the values key the tag goes to [default: image.tag]; with
    /// --value-repository
    #[arg(long, value_name = "KEY", requires = "value_repository")]
    value_tag: Option<String>,
    /// Image, Helm applications: one values key for the whole reference (repository:tag)
    #[arg(long, value_name = "KEY")]
    value_image: Option<String>,
    /// Require an HMAC-SHA256 signature of the body (X-Signature: sha256=<hex>)
    #[arg(long)]
    signed: bool,
    /// The base URL callers reach the listener at [default: http://127.0.0.1:8787]
    #[arg(long, env = "TRIPLINE_PUBLIC_URL")]
    public_url: Option<String>,
}

fn kind(args: &CreateArgs) -> Result<TriggerKind, ErrorBody> {
    let invalid = |m: String| ErrorBody::new(Code::InputInvalid, m);
    if args.kind != KindArg::Image {
        let given = [
            ("--branch", args.branch.is_some()),
            ("--value-repository", args.value_repository.is_some()),
            ("--value-tag", args.value_tag.is_some()),
            ("--value-image", args.value_image.is_some()),
            ("--no-pin-digest", args.no_pin_digest),
            ("--watch", args.watch.is_some()),
            ("--maturing", args.maturing.is_some()),
            ("--semver", args.semver.is_some()),
            ("--allow-downgrade", args.allow_downgrade),
            ("--container", !args.containers.is_empty()),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, given)| *given) {
            return Err(invalid(format!(
                "{flag} is for image triggers (--kind image)"
            )));
        }
    }
    let values = match (&args.value_repository, &args.value_tag, &args.value_image) {
        (Some(repository), Some(tag), None) => Some(ImageValues::Split {
            repository: repository.clone(),
            tag: tag.clone(),
        }),
        (None, None, Some(image)) => Some(ImageValues::Whole {
            image: image.clone(),
        }),
        _ => None,
    };
    Ok(match args.kind {
        KindArg::Redeploy => TriggerKind::Redeploy,
        KindArg::Scale => {
            let workload = args.workload.as_deref().ok_or_else(|| {
                invalid("a scale trigger needs --workload Kind/name (e.g. Deployment/web)".into())
            })?;
            let (kind, name) = workload.split_once('/').ok_or_else(|| {
                invalid(format!(
                    "--workload {workload:?} is not of the form Kind/name"
                ))
            })?;
            TriggerKind::Scale {
                kind: kind.to_owned(),
                name: name.to_owned(),
                min: args.min,
                max: args.max,
            }
        }
        KindArg::Image => TriggerKind::Image {
            repositories: args.repositories.clone(),
            filter: match (&args.regex, &args.semver, args.tags.is_empty()) {
                (Some(pattern), _, _) => TagFilter::Regex {
                    pattern: pattern.clone(),
                },
                (None, Some(range), _) => TagFilter::Semver {
                    range: range.clone(),
                    prerelease: args.prerelease,
                },
                (None, None, false) => TagFilter::Tags {
                    tags: args.tags.clone(),
                },
                (None, None, true) => TagFilter::All,
            },
            pin_digest: !args.no_pin_digest,
            branch: args.branch.clone(),
            values,
            verify: args.verify.into(),
            watch: args.watch,
            maturing: args.maturing.filter(|minutes| *minutes > 0),
            containers: args.containers.clone(),
            allow_downgrade: args.allow_downgrade,
        },
    })
}

/// Runs a trigger command. The secret store is found when the command first needs it.
pub fn run(cx: &mut Context, command: Command) -> Result<(), ErrorBody> {
    match command {
        Command::Create(args) => {
            let kind = kind(&args)?;
            let name = args
                .name
                .clone()
                .unwrap_or_else(|| format!("{}-{}", args.app, kind.name()));
            let new = NewTrigger {
                name,
                app: args.app.clone(),
                kind,
                signed: args.signed,
            };
            let created = cx
                .tripline
                .create_trigger_at(&new, args.public_url.as_deref())?;
            let url = &created.url;
            if cx.json {
                return cx.print_json(&serde_json::json!({"trigger": created.trigger, "url": url, "signingKey": created.signing_key}));
            }
            say!(
                "Created trigger {} for application {}.",
                created.trigger.name,
                created.trigger.app
            );
            say!(
                "URL (keep it secret; `tripline trigger url {}` shows it again):",
                created.trigger.name
            );
            say!("  {url}");
            if let Some(key) = &created.signing_key {
                say!("HMAC key (sign bodies as X-Signature: sha256=<hex>):");
                say!("  {key}");
            }
            say!("Try:");
            for example in cx.tripline.curl_examples(&created.trigger, url) {
                say!("  {example}");
            }
            Ok(())
        }
        Command::List { app } => {
            let triggers = cx.tripline.triggers(app.as_deref())?;
            if cx.json {
                return cx.print_json(&triggers);
            }
            if triggers.is_empty() {
                say!(
                    "No triggers yet. Create one with: tripline trigger create APP --kind redeploy"
                );
                return Ok(());
            }
            let mut rows = vec![
                ["NAME", "APP", "KIND", "ENABLED", "TOKEN", "DETAILS"]
                    .map(str::to_owned)
                    .to_vec(),
            ];
            for t in &triggers {
                rows.push(vec![
                    t.name.clone(),
                    t.app.clone(),
                    t.kind.name().to_owned(),
                    if t.enabled { "yes" } else { "no" }.to_owned(),
                    t.token_hint.clone(),
                    details(&t.kind),
                ]);
            }
            say_raw!("{}", output::table(&rows));
            Ok(())
        }
        Command::Show { name } => {
            let t = cx.tripline.trigger(&name)?;
            if cx.json {
                return cx.print_json(&t);
            }
            say!("Name:      {}", t.name);
            say!("App:       {}", t.app);
            say!("Kind:      {} ({})", t.kind.name(), details(&t.kind));
            if let TriggerKind::Image {
                branch,
                values,
                containers,
                allow_downgrade,
                ..
            } = &t.kind
            {
                if !containers.is_empty() {
                    say!(
                        "Containers: {} (no other container changes)",
                        containers.join(", ")
                    );
                }
                say!(
                    "Downgrades: {}",
                    if *allow_downgrade {
                        "allowed"
                    } else {
                        "refused (a lower version than deployed is recorded, not deployed)"
                    }
                );
                if let Some(branch) = branch {
                    say!("Branch:    {branch} (new images are committed there, then deployed)");
                }
                if let Some(values) = values {
                    say!("Values:    {values}");
                }
                let watch = cx.tripline.trigger_watch(&t.name)?;
                for seen in &watch.repositories {
                    let at = match (&seen.tag, &seen.digest) {
                        (Some(tag), Some(digest)) => format!("at {tag}@{digest}"),
                        (Some(tag), None) => format!("at {tag}"),
                        _ => "no tag chosen yet".to_owned(),
                    };
                    say!(
                        "Watching:  {} ({at}; {} tags; changed {})",
                        seen.repository,
                        seen.tags,
                        seen.changed_at
                    );
                    if let Some(error) = &seen.error {
                        say!("           last look failed: {error}");
                    }
                }
                for held in &watch.maturing {
                    say!("Maturing:  {} (deploys at {})", held.image, held.due_at);
                }
            }
            say!("Enabled:   {}", if t.enabled { "yes" } else { "no" });
            say!(
                "Signed:    {}",
                if t.signed { "yes (HMAC-SHA256)" } else { "no" }
            );
            say!(
                "Token:     {} (`tripline trigger url {}` shows the URL)",
                t.token_hint,
                t.name
            );
            say!("Created:   {}", t.created_at);
            if let Some(rotated) = &t.rotated_at {
                say!("Rotated:   {rotated}");
            }
            Ok(())
        }
        Command::Url { name, public_url } => {
            let url = cx.tripline.trigger_url_at(&name, public_url.as_deref())?;
            let t = cx.tripline.trigger(&name)?;
            let examples = cx.tripline.curl_examples(&t, &url);
            if cx.json {
                return cx.print_json(&serde_json::json!({"url": url, "curl": examples}));
            }
            say!("{url}");
            for example in examples {
                say!("  {example}");
            }
            Ok(())
        }
        Command::Rotate { name, public_url } => {
            let rotated = cx
                .tripline
                .rotate_trigger_at(&name, public_url.as_deref())?;
            let url = rotated.url;
            if cx.json {
                return cx.print_json(&serde_json::json!({"trigger": rotated.trigger, "url": url}));
            }
            say!("New URL for {name} (the old one no longer works):");
            say!("  {url}");
            Ok(())
        }
        Command::Enable { name } => switch(cx, &name, true),
        Command::Disable { name } => switch(cx, &name, false),
        Command::Delete { name } => {
            cx.tripline.delete_trigger(&name)?;
            if cx.json {
                return cx.print_json(&serde_json::json!({"deleted": name}));
            }
            say!("Deleted trigger {name}; its URL no longer works.");
            Ok(())
        }
        Command::Records {
            name,
            decision,
            limit,
            id,
        } => records(cx, name, decision, limit, id),
    }
}

fn switch(cx: &mut Context, name: &str, enabled: bool) -> Result<(), ErrorBody> {
    let t = cx.tripline.set_trigger_enabled(name, enabled)?;
    if cx.json {
        return cx.print_json(&t);
    }
    say!(
        "Trigger {name} is {}.",
        if enabled {
            "enabled"
        } else {
            "disabled: calls get 409 and do nothing"
        }
    );
    Ok(())
}

fn records(
    cx: &mut Context,
    name: Option<String>,
    decision: Option<DecisionArg>,
    limit: usize,
    id: Option<i64>,
) -> Result<(), ErrorBody> {
    if let Some(id) = id {
        let record = cx.tripline.record(id)?;
        if cx.json {
            return cx.print_json(&record);
        }
        say!(
            "Record {} at {} from {}",
            record.id,
            record.at,
            record.source
        );
        say!(
            "Trigger:   {}",
            record.trigger.as_deref().unwrap_or("(unknown token)")
        );
        say!("Request:   {} {}", record.method, record.path);
        for (header, value) in &record.headers {
            say!("           {header}: {value}");
        }
        say!(
            "Body:      {}{}",
            record.body,
            if record.body_truncated {
                " …(cut at 64 KiB)"
            } else {
                ""
            }
        );
        if let Some(event) = &record.event {
            say!("Event:     {event}");
        }
        say!("Decision:  {}", record.reason);
        if record.repeats > 1 {
            say!(
                "Repeats:   {} identical calls in a row, the last at {}",
                record.repeats,
                record.last_at.as_deref().unwrap_or("?")
            );
        }
        say!("Response:  {} {}", record.status, record.response);
        if let Some(release) = record.release {
            say!("Release:   {release}");
        }
        return Ok(());
    }
    let filter = RecordFilter {
        trigger: name.as_deref(),
        decision: decision.map(Decision::from),
        before: None,
        limit,
    };
    let records = cx.tripline.records(&filter)?;
    if cx.json {
        return cx.print_json(&records);
    }
    if records.is_empty() {
        say!("No access records.");
        return Ok(());
    }
    let mut rows = vec![
        [
            "ID", "TIME", "TRIGGER", "SOURCE", "STATUS", "RELEASE", "DECISION",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for r in &records {
        rows.push(vec![
            r.id.to_string(),
            r.at.get(..19).unwrap_or(&r.at).replace('T', " "),
            r.trigger.clone().unwrap_or_else(|| "-".into()),
            r.source.clone(),
            r.status.to_string(),
            r.release
                .map(|x| x.to_string())
                .unwrap_or_else(|| "-".into()),
            if r.repeats > 1 {
                format!("{} (×{})", r.reason, r.repeats)
            } else {
                r.reason.clone()
            },
        ]);
    }
    say_raw!("{}", output::table(&rows));
    Ok(())
}

fn details(kind: &TriggerKind) -> String {
    match kind {
        TriggerKind::Redeploy => "redeploy, optional patch body".into(),
        TriggerKind::Scale {
            kind,
            name,
            min,
            max,
        } => format!(
            "{kind}/{name}, {}..{} replicas",
            min.map(|m| m.to_string()).unwrap_or_else(|| "0".into()),
            max.map(|m| m.to_string()).unwrap_or_else(|| "∞".into())
        ),
        TriggerKind::Image {
            repositories,
            filter,
            pin_digest,
            branch,
            values,
            verify,
            watch,
            maturing,
            containers,
            allow_downgrade,
        } => format!(
            "{} ({}){}{}{}{}{}{}{}{}",
            repositories.join(", "),
            match filter {
                TagFilter::All => "all tags".to_owned(),
                TagFilter::Regex { pattern } => format!("tags matching /{pattern}/"),
                TagFilter::Tags { tags } => format!("tags {}", tags.join(",")),
                TagFilter::Semver { range, prerelease } => format!(
                    "versions {range}{}",
                    if *prerelease {
                        ", pre-releases too"
                    } else {
                        ""
                    }
                ),
            },
            if *pin_digest {
                ", pinned by digest"
            } else {
                ""
            },
            branch
                .as_deref()
                .map(|b| format!(", written to branch {b}"))
                .unwrap_or_default(),
            values
                .as_ref()
                .map(|v| format!(", values {v}"))
                .unwrap_or_default(),
            if containers.is_empty() {
                String::new()
            } else {
                format!(", containers {}", containers.join(","))
            },
            if *allow_downgrade {
                ", downgrades allowed"
            } else {
                ""
            },
            match verify {
                Verify::Required => "",
                Verify::IfReachable => ", deployed unverified when the registry is unreachable",
                Verify::Off => ", not verified with the registry",
            },
            watch
                .map(|s| format!(", watched every {s}s"))
                .unwrap_or_default(),
            maturing
                .map(|m| format!(", after {m} minutes stable"))
                .unwrap_or_default(),
        ),
    }
}
