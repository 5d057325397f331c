//! Container probes (`livenessProbe`, `readinessProbe`, `startupProbe`) and their handlers,
//! as the API server's `validateProbe` and `validateHandler` check them.

use serde_json::{Map, Value};

use super::Cause;
use super::names::port_name_problem;
use super::pod::{at_least, int, one_of, port_number, present};

/// The ways a probe can look at a container; a probe has exactly one.
const HANDLERS: [&str; 4] = ["exec", "httpGet", "tcpSocket", "grpc"];

/// Checks the probes of one container at `at` (`spec.containers[0]`).
pub(super) fn probes(container: &Map<String, Value>, at: &str, causes: &mut Vec<Cause>) {
    for key in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let Some(probe) = present(container.get(key)) else {
            continue;
        };
        let at = format!("{at}.{key}");
        let Some(object) = probe.as_object() else {
            causes.push(Cause::type_invalid(&at, probe, "a mapping"));
            continue;
        };
        handler(object, &at, causes);
        for field in [
            "initialDelaySeconds",
            "timeoutSeconds",
            "periodSeconds",
            "successThreshold",
            "failureThreshold",
        ] {
            at_least(Some(probe), field, 0, &at, causes);
        }
        // 0 is defaulted to 1; any other count makes no sense for these two.
        if key != "readinessProbe"
            && let Some(value) = present(object.get("successThreshold"))
            && int(value).is_some_and(|n| n > 1)
        {
            causes.push(Cause::invalid(
                format!("{at}.successThreshold"),
                value,
                "must be 1",
            ));
        }
        if let Some(value) = present(object.get("terminationGracePeriodSeconds")) {
            if key == "readinessProbe" {
                causes.push(Cause::forbidden(
                    format!("{at}.terminationGracePeriodSeconds"),
                    "must not be set for readinessProbes",
                ));
            } else if int(value).is_none_or(|n| n <= 0) {
                causes.push(Cause::invalid(
                    format!("{at}.terminationGracePeriodSeconds"),
                    value,
                    "must be greater than 0",
                ));
            }
        }
    }
}

fn handler(probe: &Map<String, Value>, at: &str, causes: &mut Vec<Cause>) {
    let given: Vec<&str> = HANDLERS
        .into_iter()
        .filter(|key| present(probe.get(*key)).is_some())
        .collect();
    match given.as_slice() {
        [] => causes.push(Cause::required_because(at, "must specify a handler type")),
        [_] => {}
        [_, second, ..] => causes.push(Cause::forbidden(
            format!("{at}.{second}"),
            "may not specify more than 1 handler type",
        )),
    }
    if let Some(exec) = present(probe.get("exec")) {
        let command = exec.get("command").and_then(Value::as_array);
        if command.is_none_or(Vec::is_empty) {
            causes.push(Cause::required(format!("{at}.exec.command")));
        }
    }
    if let Some(http) = present(probe.get("httpGet")) {
        let at = format!("{at}.httpGet");
        port(http.get("port"), &format!("{at}.port"), true, causes);
        one_of(Some(http), "scheme", &["HTTP", "HTTPS"], &at, causes);
    }
    if let Some(tcp) = present(probe.get("tcpSocket")) {
        port(
            tcp.get("port"),
            &format!("{at}.tcpSocket.port"),
            true,
            causes,
        );
    }
    if let Some(grpc) = present(probe.get("grpc")) {
        port(grpc.get("port"), &format!("{at}.grpc.port"), false, causes);
    }
}

/// A handler's port: a number from 1 to 65535 or, where `named` is allowed, a container
/// port's name.
fn port(value: Option<&Value>, at: &str, named: bool, causes: &mut Vec<Cause>) {
    match present(value) {
        None => causes.push(Cause::required(at)),
        Some(number @ Value::Number(_)) => port_number(number, at.to_owned(), causes),
        Some(value @ Value::String(name)) if named => {
            if let Some(problem) = port_name_problem(name) {
                causes.push(Cause::invalid(at, value, problem));
            }
        }
        Some(other) => causes.push(Cause::type_invalid(
            at,
            other,
            if named {
                "an integer or a port name"
            } else {
                "an integer"
            },
        )),
    }
}
