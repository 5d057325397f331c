//! The sandbox cluster driven by the real `kubectl`, through a kubeconfig from
//! [`Sandbox::kubeconfig`]: server-side apply, get (YAML, tables, JSONPath), scale, rollout
//! status, strategic patch, apply conflicts, a rollout that cannot finish, and delete.
//!
//! kubectl's default validation is left on: it reads the sandbox's OpenAPI v3 documents to
//! learn that the server validates fields itself. When kubectl is not installed the test is
//! skipped with a message, unless `TRIPLINE_REQUIRE_KUBECTL` is set, when it fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tripline_sandbox::{Sandbox, SandboxConfig};

const MANIFEST: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo
  labels:
    app: demo
spec:
  replicas: 2
  selector:
    matchLabels:
      app: demo
  template:
    metadata:
      labels:
        app: demo
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: demo
spec:
  selector:
    app: demo
  ports:
  - port: 80
    targetPort: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: demo
data:
  greeting: hello
";

/// A StatefulSet and a DaemonSet, for `kubectl rollout status` on both.
const WORKLOADS: &str = "\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  replicas: 2
  serviceName: db
  selector:
    matchLabels:
      app: db
  template:
    metadata:
      labels:
        app: db
    spec:
      containers:
      - name: db
        image: postgres:17
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels:
      app: agent
  template:
    metadata:
      labels:
        app: agent
    spec:
      containers:
      - name: agent
        image: agent:1
";

const BROKEN: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: broken
spec:
  replicas: 1
  progressDeadlineSeconds: 1
  selector:
    matchLabels:
      app: broken
  template:
    metadata:
      labels:
        app: broken
    spec:
      containers:
      - name: web
        image: registry.invalid/broken:1
";

/// Finds kubectl on PATH (or at /usr/bin/kubectl).
fn find_kubectl() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("kubectl"))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| {
        let fallback = PathBuf::from("/usr/bin/kubectl");
        fallback.is_file().then_some(fallback)
    })
}

struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
    home: PathBuf,
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Kubectl {
    /// Runs kubectl off the async runtime (the sandbox serves on it meanwhile).
    async fn run(&self, args: &[&str]) -> Output {
        let binary = self.binary.clone();
        let kubeconfig = self.kubeconfig.clone();
        let home = self.home.clone();
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        tokio::task::spawn_blocking(move || {
            let output = Command::new(&binary)
                .args(&args)
                .env("KUBECONFIG", &kubeconfig)
                // Keep kubectl's discovery and OpenAPI caches out of the real home.
                .env("HOME", &home)
                .env("KUBECACHEDIR", home.join("cache"))
                .env_remove("KUBECTL_EXTERNAL_DIFF")
                .output()
                .expect("kubectl runs");
            Output {
                code: output.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            }
        })
        .await
        .expect("kubectl task")
    }

    /// Runs kubectl and requires success.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert_eq!(
            out.code, 0,
            "kubectl {args:?} failed\nstdout: {}\nstderr: {}",
            out.stdout, out.stderr
        );
        out.stdout
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

/// A running sandbox and a kubectl pointed at it; `None` (after saying why) when kubectl is
/// not installed and not required.
async fn setup() -> Option<(Sandbox, Kubectl, tempfile::TempDir)> {
    let Some(binary) = find_kubectl() else {
        if std::env::var_os("TRIPLINE_REQUIRE_KUBECTL").is_some() {
            panic!("kubectl is not installed, and TRIPLINE_REQUIRE_KUBECTL is set");
        }
        eprintln!(
            "skipping: kubectl is not installed (set TRIPLINE_REQUIRE_KUBECTL to make this a failure)"
        );
        return None;
    };
    let sandbox = Sandbox::start(SandboxConfig {
        rollout_delay: Duration::from_millis(100),
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let kubectl = Kubectl {
        binary,
        kubeconfig: PathBuf::from(write(dir.path(), "kubeconfig", &sandbox.kubeconfig())),
        home: dir.path().join("home"),
    };
    Some((sandbox, kubectl, dir))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_applies_scales_patches_rolls_out_and_deletes() {
    let Some((sandbox, kubectl, dir)) = setup().await else {
        return;
    };
    let manifest = write(dir.path(), "deploy.yaml", MANIFEST);

    let version: Value =
        serde_json::from_str(&kubectl.ok(&["version", "-o", "json"]).await).unwrap();
    assert_eq!(
        version["serverVersion"]["gitVersion"],
        "v1.33.0-tripline-sandbox"
    );
    assert_eq!(
        kubectl.ok(&["config", "current-context"]).await.trim(),
        "tripline-sandbox"
    );

    let applied = kubectl
        .ok(&["apply", "--server-side", "-f", &manifest])
        .await;
    for line in [
        "deployment.apps/demo serverside-applied",
        "service/demo serverside-applied",
        "configmap/demo serverside-applied",
    ] {
        assert!(applied.contains(line), "{applied}");
    }

    let yaml = kubectl.ok(&["get", "deploy", "demo", "-o", "yaml"]).await;
    let live: Value = serde_saphyr::from_str(&yaml).expect("kubectl prints YAML");
    assert_eq!(live["kind"], "Deployment");
    assert_eq!(live["metadata"]["generation"], 1);
    assert_eq!(live["spec"]["replicas"], 2);
    assert!(
        live["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| u.len() == 36)
    );

    let rolled = kubectl
        .ok(&["rollout", "status", "deploy/demo", "--timeout=30s"])
        .await;
    assert!(
        rolled.contains("deployment \"demo\" successfully rolled out"),
        "{rolled}"
    );

    let pods = kubectl.ok(&["get", "pods"]).await;
    let header = pods.lines().next().unwrap_or("");
    for column in ["NAME", "READY", "STATUS", "RESTARTS", "AGE"] {
        assert!(header.contains(column), "{pods}");
    }
    let running: Vec<&str> = pods
        .lines()
        .filter(|l| l.starts_with("demo-") && l.contains("1/1") && l.contains("Running"))
        .collect();
    assert_eq!(running.len(), 2, "{pods}");

    let scaled = kubectl
        .ok(&["scale", "deploy", "demo", "--replicas=3"])
        .await;
    assert!(scaled.contains("deployment.apps/demo scaled"), "{scaled}");
    let rolled = kubectl
        .ok(&["rollout", "status", "deploy/demo", "--timeout=30s"])
        .await;
    assert!(rolled.contains("successfully rolled out"), "{rolled}");
    let names = kubectl
        .ok(&["get", "pods", "-l", "app=demo", "-o", "name"])
        .await;
    assert_eq!(names.lines().count(), 3, "{names}");

    let patch =
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.28"}]}}}}"#;
    let patched = kubectl
        .ok(&["patch", "deploy", "demo", "--type=strategic", "-p", patch])
        .await;
    assert!(
        patched.contains("deployment.apps/demo patched"),
        "{patched}"
    );
    let rolled = kubectl
        .ok(&["rollout", "status", "deploy/demo", "--timeout=30s"])
        .await;
    assert!(rolled.contains("successfully rolled out"), "{rolled}");
    let image = kubectl
        .ok(&[
            "get",
            "deploy",
            "demo",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ])
        .await;
    assert_eq!(image, "nginx:1.28");
    let port = kubectl
        .ok(&[
            "get",
            "deploy",
            "demo",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].ports[0].containerPort}",
        ])
        .await;
    assert_eq!(
        port, "80",
        "the strategic patch merged the container by name"
    );
    let images = kubectl
        .ok(&[
            "get",
            "pods",
            "-l",
            "app=demo",
            "-o",
            "jsonpath={.items[*].spec.containers[0].image}",
        ])
        .await;
    assert_eq!(
        images.split_whitespace().collect::<Vec<_>>(),
        ["nginx:1.28"; 3]
    );
    let cluster_ip = kubectl
        .ok(&["get", "svc", "demo", "-o", "jsonpath={.spec.clusterIP}"])
        .await;
    assert!(cluster_ip.starts_with("10.96."), "{cluster_ip}");

    let workloads = write(dir.path(), "workloads.yaml", WORKLOADS);
    kubectl
        .ok(&["apply", "--server-side", "-f", &workloads])
        .await;
    let sts = kubectl
        .ok(&["rollout", "status", "statefulset/db", "--timeout=30s"])
        .await;
    // The server defaults `rollingUpdate.partition: 0`, as a real one does, so kubectl
    // reports a partitioned roll out.
    assert!(
        sts.contains("partitioned roll out complete: 2 new pods have been updated"),
        "{sts}"
    );
    let ds = kubectl
        .ok(&["rollout", "status", "daemonset/agent", "--timeout=30s"])
        .await;
    assert!(
        ds.contains("daemon set \"agent\" successfully rolled out"),
        "{ds}"
    );
    kubectl
        .ok(&["set", "image", "statefulset/db", "db=postgres:18"])
        .await;
    let sts = kubectl
        .ok(&["rollout", "status", "statefulset/db", "--timeout=30s"])
        .await;
    assert!(sts.contains("roll out complete: 2 new pods"), "{sts}");
    let names = kubectl
        .ok(&[
            "get",
            "pods",
            "-l",
            "app=db",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ])
        .await;
    assert_eq!(names, "db-0 db-1");

    // Another manager applying a different replica count conflicts, as on a real cluster.
    let other = write(
        dir.path(),
        "other.yaml",
        &MANIFEST.replace("replicas: 2", "replicas: 5"),
    );
    let conflict = kubectl
        .run(&[
            "apply",
            "--server-side",
            "--field-manager=someone-else",
            "-f",
            &other,
        ])
        .await;
    assert_ne!(conflict.code, 0);
    assert!(conflict.stderr.contains("conflict"), "{}", conflict.stderr);
    assert!(
        conflict.stderr.contains(".spec.replicas"),
        "{}",
        conflict.stderr
    );

    // A rollout that cannot finish fails `rollout status` once its deadline passes.
    let broken = write(dir.path(), "broken.yaml", BROKEN);
    kubectl.ok(&["apply", "--server-side", "-f", &broken]).await;
    let stuck = kubectl
        .run(&["rollout", "status", "deploy/broken", "--timeout=30s"])
        .await;
    assert_ne!(stuck.code, 0, "{}", stuck.stdout);
    assert!(
        stuck.stderr.contains("exceeded its progress deadline"),
        "{}",
        stuck.stderr
    );
    let pods = kubectl.ok(&["get", "pods", "-l", "app=broken"]).await;
    assert!(pods.contains("ImagePullBackOff"), "{pods}");

    let deleted = kubectl.ok(&["delete", "-f", &manifest]).await;
    for line in [
        "deployment.apps \"demo\" deleted",
        "service \"demo\" deleted",
        "configmap \"demo\" deleted",
    ] {
        assert!(deleted.contains(line), "{deleted}");
    }
    let gone = kubectl.run(&["get", "deploy", "demo"]).await;
    assert_ne!(gone.code, 0);
    assert!(
        gone.stderr.contains("deployments.apps \"demo\" not found"),
        "{}",
        gone.stderr
    );
    let left = kubectl
        .ok(&["get", "pods,rs", "-l", "app=demo", "-o", "name"])
        .await;
    assert!(
        left.trim().is_empty(),
        "owned objects went with the Deployment: {left}"
    );

    sandbox.shutdown().await;
}

/// Every field `expected` sets is in `actual` with the same value (the server adds defaults
/// and bookkeeping, never removes or changes what the client sent).
fn contained(expected: &Value, actual: &Value, path: &str, problems: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, value) in e {
                let empty = value.is_null()
                    || value.as_object().is_some_and(|m| m.is_empty())
                    || value.as_array().is_some_and(|l| l.is_empty());
                if empty || key == "creationTimestamp" || key == "status" {
                    continue;
                }
                match a.get(key) {
                    Some(found) => contained(value, found, &format!("{path}.{key}"), problems),
                    None => problems.push(format!("{path}.{key} is missing")),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (x, y)) in e.iter().zip(a).enumerate() {
                contained(x, y, &format!("{path}[{i}]"), problems);
            }
        }
        _ if expected == actual => {}
        _ => problems.push(format!("{path}: sent {expected}, stored {actual}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_commands_send_protobuf_the_sandbox_decodes() {
    let Some((sandbox, kubectl, _dir)) = setup().await else {
        return;
    };
    // kubectl's typed `create` commands send protobuf bodies; what the sandbox stores must
    // hold everything kubectl renders for the same command with --dry-run=client.
    let cases: &[&[&str]] = &[
        &["create", "namespace", "team"],
        &[
            "create",
            "configmap",
            "settings",
            "--from-literal=greeting=hello",
            "--from-literal=mode=x",
        ],
        &[
            "create",
            "secret",
            "generic",
            "creds",
            "--from-literal=password=hunter2",
        ],
        &["create", "serviceaccount", "robot"],
        &[
            "create",
            "deployment",
            "web",
            "--image=nginx:1.27",
            "--replicas=2",
            "--port=80",
        ],
        &["create", "service", "clusterip", "web", "--tcp=80:8080"],
        &[
            "create",
            "service",
            "nodeport",
            "edge",
            "--tcp=443:8443",
            "--node-port=30443",
        ],
        &["create", "job", "once", "--image=busybox"],
        &[
            "create",
            "role",
            "reader",
            "--verb=get,list",
            "--resource=pods",
        ],
        &[
            "create",
            "rolebinding",
            "reader",
            "--role=reader",
            "--user=alice",
        ],
        &[
            "create",
            "clusterrole",
            "node-reader",
            "--verb=get",
            "--resource=nodes",
        ],
    ];
    for args in cases {
        let mut rendered = args.to_vec();
        rendered.extend(["--dry-run=client", "-o", "json"]);
        let expected: Value = serde_json::from_str(&kubectl.ok(&rendered).await).unwrap();
        let mut created = args.to_vec();
        created.extend(["-o", "json"]);
        let stored: Value = serde_json::from_str(&kubectl.ok(&created).await).unwrap();
        let mut problems = Vec::new();
        contained(&expected, &stored, "", &mut problems);
        assert!(problems.is_empty(), "kubectl {args:?}: {problems:?}");
        assert!(
            stored["metadata"]["uid"].is_string(),
            "kubectl {args:?} created an object"
        );
    }
    let secret = kubectl
        .ok(&["get", "secret", "creds", "-o", "jsonpath={.data.password}"])
        .await;
    assert_eq!(secret, "aHVudGVyMg==");
    let rolled = kubectl
        .ok(&["rollout", "status", "deploy/web", "--timeout=30s"])
        .await;
    assert!(rolled.contains("successfully rolled out"), "{rolled}");
    let done = kubectl
        .ok(&[
            "wait",
            "--for=condition=complete",
            "job/once",
            "--timeout=30s",
        ])
        .await;
    assert!(done.contains("condition met"), "{done}");

    // Kinds without a decoding table are refused with a clear message, not half-stored.
    let refused = kubectl
        .run(&[
            "create",
            "poddisruptionbudget",
            "pdb",
            "--selector=app=web",
            "--min-available=1",
        ])
        .await;
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("send JSON or YAML"),
        "{}",
        refused.stderr
    );
    sandbox.shutdown().await;
}
