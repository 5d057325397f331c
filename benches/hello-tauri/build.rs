//! Tauri's build step: reads `tauri.conf.json` and `capabilities/`.

fn main() {
    tauri_build::build();
}
