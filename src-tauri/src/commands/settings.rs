//! Settings, facts about this installation, and the UI's "first screen is up" signal.

use serde::Serialize;
use tauri::{AppHandle, State};

use super::Result;
use crate::settings::{self, Settings};
use crate::state::AppState;

/// Facts the Settings screen shows.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    /// The app's version.
    pub version: String,
    /// Where the database lives.
    pub data_dir: String,
    /// The database's size on disk, in bytes.
    pub database_bytes: f64,
    /// How many access records it holds.
    pub access_records: f64,
    /// Which access records the listener keeps, in words.
    pub retention: String,
    /// Where trigger tokens are kept: `keyring` or `files`.
    pub secrets: String,
    /// Who paints the window: `gpu`, `cpu` (no GPU found, or `TRIPLINE_PAINTING=cpu`), or
    /// `webkit` (`WEBKIT_SKIA_ENABLE_CPU_RENDERING` came from the environment).
    pub painting: String,
}

/// The saved settings.
#[tauri::command]
#[specta::specta]
pub async fn get_settings(state: State<'_, AppState>) -> Result<Settings> {
    Ok(state.settings())
}

/// Saves settings; a changed listener address or public URL restarts a running listener.
#[tauri::command]
#[specta::specta]
pub async fn save_settings(
    app: AppHandle,
    state: State<'_, AppState>,
    settings: Settings,
) -> Result<Settings> {
    let before = state.settings();
    // Refuse a bad address or URL before anything is written.
    settings.listener().validate()?;
    settings::save(&app, &settings)?;
    state.set_settings(settings.clone());
    if before.listener() != settings.listener() && state.api.listener_status().await.running {
        state.api.start_listener(settings.listener()).await?;
    }
    Ok(settings)
}

/// Version, data folder, database size and secret store.
#[tauri::command]
#[specta::specta]
pub async fn get_environment(state: State<'_, AppState>) -> Result<Environment> {
    let storage = state.api.storage()?;
    Ok(Environment {
        version: env!("CARGO_PKG_VERSION").into(),
        data_dir: storage.data_dir.display().to_string(),
        database_bytes: storage.database_bytes as f64,
        access_records: storage.access_records as f64,
        retention: tripline_engine::store::Retention::default().to_string(),
        secrets: storage.secrets.as_str().into(),
        painting: crate::painting::describe().into(),
    })
}

/// The UI calls this once its first screen is painted. With `TRIPLINE_REPORT_READY` set,
/// the time since the process started is printed (the start-up benchmark reads it).
#[tauri::command]
#[specta::specta]
pub async fn mark_ui_ready() -> Result<()> {
    if std::env::var_os("TRIPLINE_REPORT_READY").is_some() {
        println!("tripline-ready");
    }
    Ok(())
}
