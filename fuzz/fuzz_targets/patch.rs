//! Patches: `Patch::parse` for each `PatchType` with any body, then `patch::apply` to a small
//! template.
//!
//! The first input byte chooses the patch type (bits 0-1), whether a target is given
//! (bit 2; a JSON Patch always gets one) and which template is patched (bit 3); the rest is
//! the body. A patch that applies must leave a manifest that parses again from its own text
//! to the same objects, and a patch that changes nothing must leave the text as it was.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tripline_engine::patch::{self, Patch, PatchType, Target};
use tripline_engine::template::Manifest;

const SEED_DEMO: &str = include_str!("../../crates/engine/tests/fixtures/templates/seed-demo.yaml");
const WEB_STACK: &str = include_str!("../../crates/engine/tests/fixtures/templates/web-stack.yaml");

/// The two templates, parsed once.
static TEMPLATES: OnceLock<[(&str, Manifest); 2]> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Some((&choice, body)) = data.split_first() else {
        return;
    };
    let kind = [
        PatchType::Resource,
        PatchType::Strategic,
        PatchType::Merge,
        PatchType::Json,
    ][usize::from(choice & 3)];
    let templates = TEMPLATES.get_or_init(|| {
        [SEED_DEMO, WEB_STACK].map(|text| {
            let manifest = Manifest::parse(text).expect("the fixture template parses");
            (text, manifest)
        })
    });
    let (text, manifest) = &templates[usize::from(choice >> 3 & 1)];
    let (text, manifest): (&str, Manifest) = (text, manifest.clone());
    let target = (choice & 4 != 0 || kind == PatchType::Json).then(|| {
        let first = &manifest.documents()[0].id;
        Target {
            kind: first.kind.clone(),
            name: first.name.clone(),
            namespace: None,
            api_version: None,
        }
    });
    let patch = match Patch::parse(kind, body, target) {
        Ok(patch) => patch,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    let _ = patch.targets();
    match patch::apply(manifest, &patch) {
        Ok(applied) => {
            let text_after = applied.manifest.text();
            if applied.changed.is_empty() {
                assert_eq!(text_after, text, "an empty change rewrote the template");
            }
            let again = Manifest::parse(text_after).unwrap_or_else(|e| {
                panic!("the patched template does not parse again: {e}\n{text_after}")
            });
            let values = |m: &Manifest| {
                m.documents()
                    .iter()
                    .map(|d| (d.id.clone(), d.value.clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(values(&again), values(&applied.manifest));
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
