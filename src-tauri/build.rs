//! Tauri's build step: reads `tauri.conf.json` and the capabilities in `src-tauri/capabilities`.

fn main() {
    // tauri-build reads the capabilities but tells cargo to rerun it only when tauri.conf.json
    // changes: without this line, an edited capability kept its old grants in an existing
    // build until then.
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    let attributes =
        tauri_build::Attributes::new().capabilities_path_pattern("src-tauri/capabilities/**/*");
    tauri_build::try_build(attributes).expect("tauri build step");
}
