//! The listener: status, start, stop.

use tauri::State;
use tripline_engine::api::ListenerStatus;

use super::Result;
use crate::state::AppState;

/// Where the listener stands, with its request counters.
#[tauri::command]
#[specta::specta]
pub async fn get_listener(state: State<'_, AppState>) -> Result<ListenerStatus> {
    Ok(state.api.listener_status().await)
}

/// Starts (or restarts) the listener with the saved address and public URL.
#[tauri::command]
#[specta::specta]
pub async fn start_listener(state: State<'_, AppState>) -> Result<ListenerStatus> {
    state.api.start_listener(state.settings().listener()).await
}

/// Stops the listener after the requests in flight.
#[tauri::command]
#[specta::specta]
pub async fn stop_listener(state: State<'_, AppState>) -> Result<ListenerStatus> {
    Ok(state.api.stop_listener().await)
}
