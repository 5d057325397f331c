//! The replayer of the kube-golden corpus: requests recorded against a real kube-apiserver
//! (v1.36) with the answers it gave, replayed against another server and compared.
//!
//! The corpus and its format are described in `tests/fixtures/kube-golden/README.md`. A case
//! has setup steps (requests, waits for a condition, sleeps), one request, and the recorded
//! answer: status, content type, `Warning` headers and body. Bodies were normalised when they
//! were recorded: generated values (uids, resourceVersions, timestamps, name suffixes,
//! addresses) are placeholders such as `<uid>`, and an answer matches when every placeholder
//! stands for a value of its kind. Group G cases (rollouts) also record the workload's final
//! state and its ReplicaSets; those are compared once the workload reaches the recorded end
//! condition.
//!
//! Waits are conditions to reach, not durations to copy: each is bounded by
//! [`Replayer::wait_limit`], so a server that rolls out faster than a real cluster replays
//! the corpus in seconds.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use regex::Regex;
use serde_json::Value;

/// One case file.
#[derive(Debug, Clone)]
pub struct Case {
    /// The three-digit id.
    pub id: String,
    /// What it shows, as recorded.
    pub description: String,
    doc: Value,
}

/// The outcome of one case: empty `differences` means it matched.
#[derive(Debug)]
pub struct Outcome {
    /// The case's id.
    pub id: String,
    /// Every way the answer differed from the recorded one, or why the case could not run.
    pub differences: Vec<String>,
    /// How long the case took, setup included.
    pub took: Duration,
}

/// Reads every case of a corpus directory, sorted by id.
pub fn load(dir: &Path) -> Vec<Case> {
    let cases = dir.join("cases");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&cases)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", cases.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let mut doc: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
            if let Some(file) = doc["response"]["body_file"].as_str() {
                let body = gunzip(&cases.join(file));
                doc["response"]["body"] = serde_json::from_slice(&body)
                    .unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
            }
            Case {
                id: doc["id"].as_str().expect("case id").to_owned(),
                description: doc["description"].as_str().unwrap_or_default().to_owned(),
                doc,
            }
        })
        .collect()
}

fn gunzip(path: &Path) -> Vec<u8> {
    let out = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run gzip for {}: {e}", path.display()));
    assert!(out.status.success(), "gzip -dc {} failed", path.display());
    out.stdout
}

/// Replays cases against one server.
pub struct Replayer {
    client: kube::Client,
    /// The most any one wait may take; the recorded timeouts are a real cluster's.
    pub wait_limit: Duration,
}

struct Answer {
    status: u16,
    content_type: Option<String>,
    warnings: Vec<String>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

impl Replayer {
    /// A replayer for the API server at `url` (plain HTTP, no credentials).
    pub fn new(url: &str) -> Replayer {
        let config = kube::Config::new(url.parse().expect("server URL"));
        Replayer {
            client: kube::Client::try_from(config).expect("kube client"),
            wait_limit: Duration::from_secs(40),
        }
    }

    async fn send(&self, step: &Value, vars: &BTreeMap<String, String>) -> Result<Answer, String> {
        let method = step["method"]
            .as_str()
            .ok_or("a request without a method")?;
        let path = substitute(
            step["path"].as_str().ok_or("a request without a path")?,
            vars,
        );
        let mut request = http::Request::builder().method(method).uri(path.as_str());
        if let Some(headers) = step["headers"].as_object() {
            for (name, value) in headers {
                request = request.header(name.as_str(), value.as_str().unwrap_or_default());
            }
        }
        let body = match &step["body"] {
            Value::Null => Vec::new(),
            Value::String(raw) => substitute(raw, vars).into_bytes(),
            value => substitute(&value.to_string(), vars).into_bytes(),
        };
        let request = request
            .body(kube::client::Body::from(body))
            .map_err(|e| format!("cannot build {method} {path}: {e}"))?;
        let response = tokio::time::timeout(self.wait_limit, self.client.send(request))
            .await
            .map_err(|_| format!("{method} {path}: no answer within {:?}", self.wait_limit))?
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let warnings = response
            .headers()
            .get_all(http::header::WARNING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect();
        let body = tokio::time::timeout(self.wait_limit, response.into_body().collect())
            .await
            .map_err(|_| {
                format!(
                    "{method} {path}: the body did not end within {:?}",
                    self.wait_limit
                )
            })?
            .map_err(|e| format!("{method} {path}: reading the body: {e}"))?
            .to_bytes()
            .to_vec();
        Ok(Answer {
            status,
            content_type,
            warnings,
            body,
        })
    }

    /// Runs one case: its setup, its request, and the comparison.
    pub async fn run(&self, case: &Case) -> Outcome {
        let started = Instant::now();
        let differences = match self.run_inner(case).await {
            Ok(differences) => differences,
            Err(problem) => vec![format!("could not run: {problem}")],
        };
        Outcome {
            id: case.id.clone(),
            differences,
            took: started.elapsed(),
        }
    }

    async fn run_inner(&self, case: &Case) -> Result<Vec<String>, String> {
        let mut vars = BTreeMap::new();
        for (index, step) in case.doc["setup"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(wait) = step.get("wait") {
                if wait["path"]
                    .as_str()
                    .is_some_and(|p| p.contains("/openshift-"))
                {
                    // An OpenShift-only object (see the corpus README): upstream has none.
                    continue;
                }
                self.wait(wait)
                    .await
                    .map_err(|e| format!("setup step {index}: {e}"))?;
            } else if let Some(seconds) = step.get("sleep").and_then(Value::as_f64) {
                // A recorded pause for the server to settle; bounded like a wait.
                let pause = Duration::from_secs_f64(seconds.min(2.0));
                tokio::time::sleep(pause).await;
            } else {
                let answer = self
                    .send(step, &vars)
                    .await
                    .map_err(|e| format!("setup step {index}: {e}"))?;
                let tolerated = step["tolerate"].as_bool() == Some(true)
                    && matches!(answer.status, 200 | 201 | 409);
                if let Some(expected) = step["expect_status"].as_u64()
                    && u64::from(answer.status) != expected
                    && !tolerated
                {
                    return Err(format!(
                        "setup step {index} ({} {}) answered {} (recorded {expected}): {}",
                        step["method"].as_str().unwrap_or_default(),
                        step["path"].as_str().unwrap_or_default(),
                        answer.status,
                        excerpt(&String::from_utf8_lossy(&answer.body)),
                    ));
                }
                if let Some(captures) = step["capture"].as_object() {
                    let body = answer.json().unwrap_or(Value::Null);
                    for (name, pointer) in captures {
                        let value = body
                            .pointer(pointer.as_str().unwrap_or_default())
                            .ok_or_else(|| {
                                format!("setup step {index}: nothing at {pointer} to capture")
                            })?;
                        let text = value
                            .as_str()
                            .map_or_else(|| value.to_string(), str::to_owned);
                        vars.insert(name.clone(), text);
                    }
                }
            }
        }

        let answer = self.send(&case.doc["request"], &vars).await?;
        let expected = &case.doc["response"];
        let mut differences = Vec::new();
        let status = expected["status"].as_u64().unwrap_or_default();
        if u64::from(answer.status) != status {
            differences.push(format!("status: recorded {status}, got {}", answer.status));
        }
        let recorded_type = expected["headers"]["content-type"].as_str();
        if recorded_type != answer.content_type.as_deref() {
            differences.push(format!(
                "content-type: recorded {recorded_type:?}, got {:?}",
                answer.content_type
            ));
        }
        let recorded_warnings: Vec<&str> = expected["headers"]["warning"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if recorded_warnings != answer.warnings {
            differences.push(format!(
                "Warning headers: recorded {recorded_warnings:?}, got {:?}",
                answer.warnings
            ));
        }
        let body = if case.doc["stream"].as_bool() == Some(true) {
            String::from_utf8_lossy(&answer.body)
                .lines()
                .filter(|line| !line.trim().is_empty())
                .map(|line| {
                    serde_json::from_str(line).unwrap_or_else(|_| Value::String(line.to_owned()))
                })
                .collect::<Vec<Value>>()
                .into()
        } else {
            match &expected["body"] {
                Value::String(_) => {
                    Value::String(String::from_utf8_lossy(&answer.body).into_owned())
                }
                _ => answer.json().unwrap_or_else(|| {
                    Value::String(String::from_utf8_lossy(&answer.body).into_owned())
                }),
            }
        };
        compare(&expected["body"], &body, "", &mut differences);

        if let Some(spec) = case.doc.get("timeline_spec") {
            self.compare_timeline(case, spec, &mut differences).await?;
        }
        Ok(differences)
    }

    /// Waits until a `wait` step's conditions hold (bounded by `wait_limit`).
    async fn wait(&self, wait: &Value) -> Result<Value, String> {
        let path = wait["path"].as_str().ok_or("a wait without a path")?;
        let recorded = Duration::from_secs_f64(wait["timeout"].as_f64().unwrap_or(60.0));
        let limit = recorded.min(self.wait_limit);
        let want_status = wait["status"].as_u64();
        let deadline = Instant::now() + limit;
        let get = serde_json::json!({"method": "GET", "path": path, "headers": {"accept": "application/json"}});
        loop {
            let answer = self.send(&get, &BTreeMap::new()).await?;
            let last;
            if let Some(status) = want_status {
                if u64::from(answer.status) == status {
                    return Ok(answer.json().unwrap_or(Value::Null));
                }
                last = format!("status {}", answer.status);
            } else if answer.status == 200 {
                let object = answer.json().unwrap_or(Value::Null);
                match unmet(&object, &wait["until"]) {
                    None => return Ok(object),
                    Some(why) => last = why,
                }
            } else {
                last = format!("status {}", answer.status);
            }
            if Instant::now() >= deadline {
                return Err(format!("waited {limit:?} for {path}; last: {last}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn compare_timeline(
        &self,
        case: &Case,
        spec: &Value,
        differences: &mut Vec<String>,
    ) -> Result<(), String> {
        let wait = serde_json::json!({
            "path": spec["path"],
            "until": spec["until"],
            "timeout": spec["max_seconds"],
        });
        let object = match self.wait(&wait).await {
            Ok(object) => object,
            Err(why) => {
                differences.push(format!(
                    "timeline: the recorded end state was never reached: {why}"
                ));
                return Ok(());
            }
        };
        if let Some(last) = case.doc["timeline"].as_array().and_then(|t| t.last()) {
            let got = sample(&object);
            let mut last = last.clone();
            if let Some(map) = last.as_object_mut() {
                map.remove("t_ms");
            }
            compare(&last, &got, "/timeline/last", differences);
        }
        let rs_path = spec["rs_path"]
            .as_str()
            .ok_or("a timeline without rs_path")?;
        let get = serde_json::json!({"method": "GET", "path": rs_path, "headers": {"accept": "application/json"}});
        let list = self
            .send(&get, &BTreeMap::new())
            .await?
            .json()
            .unwrap_or(Value::Null);
        let mut sets: Vec<Value> = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|rs| {
                serde_json::json!({
                    "name": rs["metadata"]["name"],
                    "pod-template-hash": rs["metadata"]["labels"]["pod-template-hash"],
                    "revision": rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
                    "image": rs["spec"]["template"]["spec"]["containers"][0]["image"],
                    "replicas": rs["spec"]["replicas"],
                })
            })
            .collect();
        sets.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        let mut recorded = case.doc["replicasets"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        recorded.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        compare(
            &Value::Array(recorded),
            &Value::Array(sets),
            "/replicasets",
            differences,
        );
        Ok(())
    }
}

/// The fields of a workload that a group G timeline samples.
fn sample(object: &Value) -> Value {
    let status = &object["status"];
    let mut out = serde_json::Map::new();
    out.insert(
        "generation".into(),
        object["metadata"]["generation"].clone(),
    );
    for key in [
        "observedGeneration",
        "replicas",
        "updatedReplicas",
        "readyReplicas",
        "availableReplicas",
        "unavailableReplicas",
        "terminatingReplicas",
    ] {
        out.insert(key.into(), status[key].clone());
    }
    let conditions: Vec<Value> = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            serde_json::json!({
                "type": c["type"], "status": c["status"], "reason": c["reason"], "message": c["message"],
            })
        })
        .collect();
    out.insert("conditions".into(), conditions.into());
    Value::Object(out)
}

/// Why an object does not meet a wait's conditions yet, or `None` when it does.
fn unmet(object: &Value, until: &Value) -> Option<String> {
    for condition in until.as_array().into_iter().flatten() {
        let pointer = condition[0].as_str().unwrap_or_default();
        let got = select(object, pointer);
        let want = match condition[1].as_str().and_then(|s| s.strip_prefix('=')) {
            Some(other) => select(object, other),
            None => condition[1].clone(),
        };
        let same = got == want
            || (got.is_null() && want.as_i64() == Some(0))
            || (want.is_null() && got.as_i64() == Some(0));
        if !same {
            return Some(format!("{pointer} is {got}, want {want}"));
        }
    }
    None
}

/// A JSON pointer with `[key=value]` steps that select a list item by a field.
fn select(object: &Value, pointer: &str) -> Value {
    let mut at = object;
    for step in pointer.split('/').skip(1) {
        let step = step.replace("~1", "/").replace("~0", "~");
        at = if let Some(filter) = step.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            let (key, value) = filter.split_once('=').unwrap_or((filter, ""));
            match at
                .as_array()
                .and_then(|items| items.iter().find(|item| item[key] == value))
            {
                Some(item) => item,
                None => return Value::Null,
            }
        } else if let Some(items) = at.as_array() {
            match step.parse::<usize>().ok().and_then(|i| items.get(i)) {
                Some(item) => item,
                None => return Value::Null,
            }
        } else {
            match at.get(&step) {
                Some(value) => value,
                None => return Value::Null,
            }
        };
    }
    at.clone()
}

fn substitute(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = text.to_owned();
    for (name, value) in vars {
        out = out.replace(&format!("${{{name}}}"), value);
    }
    out
}

const PLACEHOLDERS: &[(&str, &str)] = &[
    (
        "<uid>",
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    ),
    ("<rv>", r"\d+"),
    (
        "<time>",
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})",
    ),
    ("<suffix>", "[a-z0-9]+"),
    ("<ip>", "[0-9a-fA-F:.]+"),
    ("<addr>", r"\S+:\d+"),
    ("<any>", "(?s:.*)"),
];

/// A recorded string with placeholders as a pattern, or `None` if it has none.
fn pattern(recorded: &str) -> Option<Regex> {
    if !PLACEHOLDERS.iter().any(|(p, _)| recorded.contains(p)) {
        return None;
    }
    let mut out = String::from("^");
    let mut rest = recorded;
    'outer: while !rest.is_empty() {
        for (placeholder, regex) in PLACEHOLDERS {
            if let Some(after) = rest.strip_prefix(placeholder) {
                out.push_str(regex);
                rest = after;
                continue 'outer;
            }
        }
        let next = rest[1..].find('<').map_or(rest.len(), |i| i + 1);
        out.push_str(&regex::escape(&rest[..next]));
        rest = &rest[next..];
    }
    out.push('$');
    Some(Regex::new(&out).expect("placeholder pattern"))
}

fn same_string(recorded: &str, got: &str) -> bool {
    match pattern(recorded) {
        Some(regex) => regex.is_match(got),
        None => recorded == got,
    }
}

/// Compares a recorded value with the one received; every difference is pushed with its path.
pub fn compare(recorded: &Value, got: &Value, path: &str, out: &mut Vec<String>) {
    match (recorded, got) {
        (Value::Object(want), Value::Object(have)) => {
            let mut matched = Vec::new();
            for (key, value) in want {
                let found = have.get_key_value(key.as_str()).or_else(|| {
                    pattern(key).and_then(|regex| have.iter().find(|(k, _)| regex.is_match(k)))
                });
                match found {
                    Some((k, v)) => {
                        matched.push(k.clone());
                        compare(value, v, &format!("{path}/{key}"), out);
                    }
                    None => out.push(format!(
                        "{path}/{key}: missing (recorded {})",
                        excerpt(&value.to_string())
                    )),
                }
            }
            for (key, value) in have {
                if !matched.contains(key) {
                    out.push(format!(
                        "{path}/{key}: not recorded (got {})",
                        excerpt(&value.to_string())
                    ));
                }
            }
        }
        (Value::Array(want), Value::Array(have)) => {
            for (index, (w, h)) in want.iter().zip(have).enumerate() {
                compare(w, h, &format!("{path}/{index}"), out);
            }
            if want.len() != have.len() {
                out.push(format!(
                    "{path}: {} items recorded, got {}",
                    want.len(),
                    have.len()
                ));
            }
        }
        (Value::String(want), Value::String(have)) if same_string(want, have) => {}
        (want, have) if want == have => {}
        (want, have) => out.push(format!(
            "{path}: recorded {}, got {}",
            excerpt(&want.to_string()),
            excerpt(&have.to_string())
        )),
    }
}

fn excerpt(text: &str) -> String {
    const MAX: usize = 200;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = text[..end].to_owned();
    let _ = write!(out, "… ({} bytes)", text.len());
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn placeholders_match_values_of_their_kind_only() {
        let mut out = Vec::new();
        compare(
            &json!({"uid": "<uid>", "rv": "<rv>", "m": "too old resource version: 1 (<rv>)"}),
            &json!({"uid": "0b7c3a54-1d2e-4f4a-9c1e-2f6a8d1b3c4d", "rv": "42", "m": "too old resource version: 1 (42)"}),
            "",
            &mut out,
        );
        assert!(out.is_empty(), "{out:?}");
        compare(&json!({"rv": "<rv>"}), &json!({"rv": "abc"}), "", &mut out);
        compare(&json!({"a": 1}), &json!({"a": 1, "b": 2}), "", &mut out);
        compare(&json!([1, 2]), &json!([1]), "", &mut out);
        assert_eq!(out.len(), 3, "{out:?}");
    }

    #[test]
    fn placeholders_in_keys_match_generated_keys() {
        let mut out = Vec::new();
        compare(
            &json!({"k:{\"uid\":\"<uid>\"}": {}}),
            &json!({"k:{\"uid\":\"0b7c3a54-1d2e-4f4a-9c1e-2f6a8d1b3c4d\"}": {}}),
            "",
            &mut out,
        );
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn conditions_select_list_items_and_absent_numbers_are_zero() {
        let object = json!({"status": {"conditions": [{"type": "Progressing", "reason": "NewReplicaSetAvailable"}], "replicas": 2}, "spec": {"replicas": 2}});
        let until = json!([
            [
                "/status/conditions/[type=Progressing]/reason",
                "NewReplicaSetAvailable"
            ],
            ["/status/replicas", "=/spec/replicas"],
            ["/status/unavailableReplicas", 0]
        ]);
        assert_eq!(unmet(&object, &until), None);
        let until = json!([["/status/replicas", 3]]);
        assert!(unmet(&object, &until).is_some());
    }
}
