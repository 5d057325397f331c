//! A minimal Tauri 2 app: one window showing a static page, and one command.
//!
//! It is the baseline of the desktop benchmark (`benches/desktop/run.sh`), which compares
//! Tripline's cold start and idle memory with this app's, measured in the same run.

// No console window on Windows release builds, as in the app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

/// The page calls this after its first paint. With `TRIPLINE_REPORT_READY` set it prints
/// `tripline-ready`, the line the benchmark waits for (the app's `mark_ui_ready` does the same).
#[tauri::command]
fn ready() {
    if std::env::var_os("TRIPLINE_REPORT_READY").is_some() {
        println!("tripline-ready");
    }
}

fn main() {
    tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![ready])
        .run(tauri::generate_context!())
        .expect("the hello window could not be created");
}
