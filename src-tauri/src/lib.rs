//! The Tripline desktop shell: a window, a tray and notifications around the engine.
//!
//! Everything Tripline knows lives in the engine ([`tripline`]); this crate only adapts it:
//! [`commands`] are a few lines each over [`tripline_engine::api::Tripline`], [`events`] pushes
//! the engine's broadcasts to the window, [`tray`] keeps the listener reachable while the
//! window is closed, and [`settings`] persists preferences with `tauri-plugin-store`.
//!
//! One managed [`state::AppState`] holds the façade; its background tasks share one
//! cancellation token and stop on quit.

pub mod boot;
pub mod commands;
pub mod events;
pub mod painting;
pub mod settings;
pub mod state;
pub mod tray;

use std::sync::Arc;

use tauri::{Manager as _, WebviewUrl, WebviewWindowBuilder};
use tauri_specta::{Builder, collect_commands, collect_events};
use tripline_engine::api::{Options, Tripline};
use tripline_engine::error::{Code, ErrorBody};

use crate::state::AppState;

/// The label of the one window.
pub const MAIN_WINDOW: &str = "main";

/// The commands and events the UI sees; also what its TypeScript bindings are made from.
pub fn specta_builder() -> Builder<tauri::Wry> {
    Builder::<tauri::Wry>::new()
        .commands(collect_commands![
            commands::apps::list_apps,
            commands::apps::get_app,
            commands::apps::create_app,
            commands::apps::delete_app,
            commands::apps::hold_app,
            commands::apps::deploy_app,
            commands::apps::rollback_app,
            commands::apps::list_workloads,
            commands::apps::get_rollout,
            commands::apps::create_demo,
            commands::sources::create_git_app,
            commands::sources::git_references,
            commands::sources::source_preview,
            commands::sources::source_revision,
            commands::sources::create_helm_app,
            commands::sources::chart_versions,
            commands::sources::app_values,
            commands::sources::app_values_versions,
            commands::sources::save_app_values,
            commands::sources::diff_app_values,
            commands::releases::list_releases,
            commands::releases::get_release,
            commands::templates::list_templates,
            commands::templates::get_version,
            commands::templates::list_versions,
            commands::templates::check_template,
            commands::templates::create_template,
            commands::templates::save_template,
            commands::templates::diff_versions,
            commands::templates::rollback_template,
            commands::templates::delete_template,
            commands::triggers::list_triggers,
            commands::triggers::get_trigger_setup,
            commands::triggers::get_trigger_watch,
            commands::triggers::preview_tags,
            commands::triggers::create_trigger,
            commands::triggers::set_trigger_enabled,
            commands::triggers::rotate_trigger,
            commands::triggers::delete_trigger,
            commands::triggers::reveal_trigger_url,
            commands::triggers::reveal_trigger_examples,
            commands::triggers::reveal_trigger_signing_key,
            commands::records::list_records,
            commands::records::get_record,
            commands::registry::list_registries,
            commands::registry::login_registry,
            commands::registry::logout_registry,
            commands::registry::list_registry_tags,
            commands::listener::get_listener,
            commands::listener::start_listener,
            commands::listener::stop_listener,
            commands::clusters::list_clusters,
            commands::settings::get_settings,
            commands::settings::save_settings,
            commands::settings::get_environment,
            commands::settings::mark_ui_ready,
        ])
        .events(collect_events![
            events::DeployProgress,
            events::AccessRecorded,
            events::ListenerChanged,
        ])
        // Ids and counts stay far below 2^53.
        .dangerously_cast_bigints_to_number()
        // One TypeScript type per Rust type (ours serialise and deserialise alike).
        .disable_serde_phases()
}

/// Runs the app until Quit.
pub fn run() {
    let data_dir = data_dir();
    start_logging(data_dir.as_ref().ok());
    // The engine opens (its database, on a first start created and migrated; the sandbox
    // cluster; the deploy workers) on a thread of its own while Tauri and GTK start, instead
    // of on the main thread between them and the window: none of it needs the window.
    let opening = std::thread::Builder::new()
        .name("tripline-open".into())
        .spawn(move || open_api(data_dir?))
        .expect("a thread to open the engine");
    let builder = specta_builder();
    tauri::Builder::default()
        .plugin(tauri_plugin_store::Builder::default().build())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .invoke_handler(builder.invoke_handler())
        .setup(move |app| {
            builder.mount_events(app);
            let settings = settings::load(app.handle());
            let api = opening
                .join()
                .map_err(|panic| {
                    let why = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    format!("the engine panicked while opening: {why}")
                })?
                .map_err(|e| e.message)?;
            let boot = boot::script(&api, &settings);
            let state = AppState::new(Arc::new(api), settings.clone());
            app.manage(state);
            events::forward(app.handle());
            if settings.start_listener {
                let handle = app.handle().clone();
                let settings = settings.clone();
                tauri::async_runtime::spawn(async move {
                    let state = handle.state::<AppState>();
                    // A bind failure is kept in the listener status (tray and Listener screen).
                    let _ = state.api.start_listener(settings.listener()).await;
                });
            }
            let window =
                WebviewWindowBuilder::new(app, MAIN_WINDOW, WebviewUrl::App("index.html".into()))
                    .title("Tripline")
                    .inner_size(1200.0, 780.0)
                    .min_inner_size(820.0, 520.0)
                    .visible(!settings.start_minimised)
                    .initialization_script(&boot)
                    .build()?;
            // The tray after the window: the web process starts 20 ms sooner.
            tray::create(app.handle())?;
            // Closing the window keeps Tripline (and its listener) running in the tray.
            let hide = window.clone();
            window.on_window_event(move |event| {
                if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                    api.prevent_close();
                    let _ = hide.hide();
                }
            });
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("the Tripline window could not be created")
        .run(|app, event| {
            if let tauri::RunEvent::ExitRequested { api, code, .. } = &event
                && code.is_none()
            {
                // The last window closing is not a reason to quit: the tray keeps us.
                api.prevent_exit();
            }
            if let tauri::RunEvent::Exit = event {
                let state = app.state::<AppState>();
                tauri::async_runtime::block_on(state.shutdown());
            }
        });
}

/// `TRIPLINE_DATA_DIR`, else the platform's data folder.
fn data_dir() -> Result<std::path::PathBuf, ErrorBody> {
    std::env::var_os("TRIPLINE_DATA_DIR")
        .map(Into::into)
        .or_else(tripline_engine::store::default_data_dir)
        .ok_or_else(|| {
            ErrorBody::new(
                Code::StoreNoDataDir,
                "no data directory: set TRIPLINE_DATA_DIR",
            )
        })
}

/// Logs to stderr and to `<data dir>/logs/tripline-desktop.log` (rotated by size), filtered
/// by `RUST_LOG`. Without a log file the app still runs, logging to stderr only.
fn start_logging(data_dir: Option<&std::path::PathBuf>) {
    use tripline_engine::logging::{FileLog, Format, Options};

    let file = data_dir.map(|dir| FileLog::in_data_dir(dir, "tripline-desktop"));
    if let Err(error) = tripline_engine::logging::init(&Options::from_env(Format::Text, file)) {
        let stderr_only = Options::from_env(Format::Text, None);
        if tripline_engine::logging::init(&stderr_only).is_ok() {
            tracing::warn!(%error, "logging to stderr only");
        }
    }
}

/// Opens the engine over `data_dir`.
fn open_api(data_dir: std::path::PathBuf) -> Result<Tripline, ErrorBody> {
    let secrets =
        tripline_engine::secrets::Secrets::detect(secrets_choice(), &data_dir).map_err(|e| {
            ErrorBody::new(
                Code::SecretsUnavailable,
                format!("no secret store is available: {e}"),
            )
        })?;
    tauri::async_runtime::block_on(Tripline::open(Options {
        data_dir,
        secrets,
        via: "desktop",
        quiet: true,
    }))
}

/// `TRIPLINE_SECRETS=files|keyring` forces a secret store; the default finds the keyring.
fn secrets_choice() -> tripline_engine::secrets::Choice {
    match std::env::var("TRIPLINE_SECRETS").as_deref() {
        Ok("files") => tripline_engine::secrets::Choice::Files,
        Ok("keyring") => tripline_engine::secrets::Choice::Keyring,
        _ => tripline_engine::secrets::Choice::Auto,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The UI's bindings are generated from the commands and types above; this fails when
    /// the checked-in file is stale. `TRIPLINE_UPDATE_BINDINGS=1 cargo test -p
    /// tripline-desktop --lib bindings` rewrites it.
    #[test]
    fn bindings_are_current() {
        let checked_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src/lib/bindings.ts");
        let fresh =
            std::env::temp_dir().join(format!("tripline-bindings-{}.ts", std::process::id()));
        super::specta_builder()
            .export(
                specta_typescript::Typescript::default().header("// Generated by tauri-specta from src-tauri (see bindings_are_current). Do not edit.\n/* eslint-disable */"),
                &fresh,
            )
            .expect("bindings export");
        let generated = std::fs::read_to_string(&fresh).expect("read generated bindings");
        let _ = std::fs::remove_file(&fresh);
        if std::env::var_os("TRIPLINE_UPDATE_BINDINGS").is_some() {
            std::fs::write(&checked_in, &generated).expect("write bindings");
            return;
        }
        let current = std::fs::read_to_string(&checked_in).unwrap_or_default();
        assert!(
            current == generated,
            "ui/src/lib/bindings.ts is stale: run `TRIPLINE_UPDATE_BINDINGS=1 cargo test -p tripline-desktop --lib bindings`"
        );
    }
}
