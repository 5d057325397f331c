//! YAML request bodies (`application/yaml` creates, `application/apply-patch+yaml` applies).
//!
//! Parsed with `serde-saphyr` and the same kind of budget the template parser uses, so a
//! hostile body (a billion-laughs alias bomb) is refused before it allocates.

use serde_json::Value;
use serde_saphyr::{Options, options::AliasLimits};

fn options() -> Options {
    let mut options = Options::default();
    let mut limits = AliasLimits::default();
    limits.max_total_replayed_events = 100_000;
    limits.max_replay_stack_depth = 16;
    limits.max_alias_expansions_per_anchor = 1_000;
    options.alias_limits = limits;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    options
}

/// Parses one YAML document into JSON.
pub(crate) fn parse(text: &str) -> Result<Value, String> {
    serde_saphyr::from_str_with_options::<Value>(text, options()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn yaml_bodies_parse_and_bombs_do_not() {
        assert_eq!(
            super::parse("a: 1\nb: [x]\n").unwrap(),
            serde_json::json!({"a": 1, "b": ["x"]})
        );
        let bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n\
                    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n\
                    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n";
        assert!(super::parse(bomb).is_err());
    }
}
