//! Tauri's build step: reads `tauri.conf.json` and the capabilities in `src-tauri/capabilities`.

fn main() {
    let attributes =
        tauri_build::Attributes::new().capabilities_path_pattern("src-tauri/capabilities/**/*");
    tauri_build::try_build(attributes).expect("tauri build step");
}
