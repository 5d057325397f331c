//! Templates: `Manifest::from_bytes` with any bytes; a manifest that parses is re-rendered
//! (every document, through `Manifest::replace`) and parsed again, and must come back as the
//! same objects with the same identities.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tripline_engine::template::Manifest;

fuzz_target!(|data: &[u8]| {
    let manifest = match Manifest::from_bytes(data) {
        Ok(manifest) => manifest,
        Err(error) => {
            let _ = error.to_string();
            let _ = error.location();
            return;
        }
    };
    let values: Vec<_> = manifest
        .documents()
        .iter()
        .map(|d| (d.id.clone(), d.value.clone()))
        .collect();
    // Parsing the same text again, reusing the first parse, gives the same manifest.
    let reused = Manifest::parse_reusing(manifest.text(), &manifest).expect("parses twice");
    assert_eq!(reused, manifest);
    let changes = values
        .iter()
        .enumerate()
        .map(|(position, (_, value))| (position, value.clone()))
        .collect();
    let rendered = match manifest.replace(changes) {
        Ok(rendered) => rendered,
        Err(error) => panic!("a parsed template does not render again: {error}"),
    };
    let text = rendered.text();
    let again = Manifest::parse(text)
        .unwrap_or_else(|e| panic!("the rendered template does not parse: {e}\n{text}"));
    let round: Vec<_> = again
        .documents()
        .iter()
        .map(|d| (d.id.clone(), d.value.clone()))
        .collect();
    assert_eq!(round, values, "the round trip changed the objects:\n{text}");
});
