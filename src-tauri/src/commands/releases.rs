//! Releases: an application's timeline and one release's details.

use tauri::State;
use tripline_engine::store::Release;

use super::Result;
use crate::state::AppState;

/// The application's newest releases, newest first (at most `limit`, up to 500).
#[tauri::command]
#[specta::specta]
pub async fn list_releases(
    state: State<'_, AppState>,
    app: String,
    limit: u32,
) -> Result<Vec<Release>> {
    let limit = usize::try_from(limit.clamp(1, 500)).unwrap_or(500);
    state.api.releases(&app, limit)
}

/// One release, with its per-object outcomes and diff.
#[tauri::command]
#[specta::specta]
pub async fn get_release(state: State<'_, AppState>, id: i64) -> Result<Release> {
    state.api.release(id)
}
