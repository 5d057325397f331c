//! Triggers: list, what a new one can follow, tag previews, create, enable/disable, rotate,
//! delete, and revealing the URL (the one command that returns a token, on request).

use tauri::State;
use tripline_engine::api::{TagPreview, TriggerSetup, TriggerWatch, Tripline};
use tripline_engine::store::NewTrigger;
use tripline_engine::trigger::{TagFilter, Trigger};

use super::Result;
use crate::state::AppState;

/// Triggers, of one application or all.
#[tauri::command]
#[specta::specta]
pub async fn list_triggers(
    state: State<'_, AppState>,
    app: Option<String>,
) -> Result<Vec<Trigger>> {
    state.api.triggers(app.as_deref())
}

/// The image repositories and workloads of the application's template.
#[tauri::command]
#[specta::specta]
pub async fn get_trigger_setup(state: State<'_, AppState>, app: String) -> Result<TriggerSetup> {
    state.api.trigger_setup(&app)
}

/// What an image trigger's watches know of each repository, and the pushes that wait to
/// mature.
#[tauri::command]
#[specta::specta]
pub async fn get_trigger_watch(state: State<'_, AppState>, name: String) -> Result<TriggerWatch> {
    state.api.trigger_watch(&name)
}

/// Which sample tags `filter` lets through (an invalid expression is an error).
#[tauri::command]
#[specta::specta]
pub async fn preview_tags(filter: TagFilter, tags: Vec<String>) -> Result<Vec<TagPreview>> {
    Tripline::preview_tags(&filter, &tags)
}

/// Creates a trigger; its token goes to the OS keyring only.
#[tauri::command]
#[specta::specta]
pub async fn create_trigger(state: State<'_, AppState>, trigger: NewTrigger) -> Result<Trigger> {
    state.api.create_trigger(&trigger)
}

/// Enables or disables a trigger (a disabled trigger answers 409).
#[tauri::command]
#[specta::specta]
pub async fn set_trigger_enabled(
    state: State<'_, AppState>,
    name: String,
    enabled: bool,
) -> Result<Trigger> {
    state.api.set_trigger_enabled(&name, enabled)
}

/// Gives the trigger a new token; the old URL stops working at once.
#[tauri::command]
#[specta::specta]
pub async fn rotate_trigger(state: State<'_, AppState>, name: String) -> Result<Trigger> {
    state.api.rotate_trigger(&name)
}

/// Deletes the trigger and its token.
#[tauri::command]
#[specta::specta]
pub async fn delete_trigger(state: State<'_, AppState>, name: String) -> Result<()> {
    state.api.delete_trigger(&name)
}

/// The trigger's URL with its token, for an explicit Copy or Show.
#[tauri::command]
#[specta::specta]
pub async fn reveal_trigger_url(state: State<'_, AppState>, name: String) -> Result<String> {
    state.api.trigger_url(&name).await
}

/// A signed trigger's HMAC key, for an explicit Copy (callers sign with it).
#[tauri::command]
#[specta::specta]
pub async fn reveal_trigger_signing_key(
    state: State<'_, AppState>,
    name: String,
) -> Result<String> {
    state.api.trigger_signing_key(&name)
}

/// Ready-to-run curl commands (token included), for an explicit Copy.
#[tauri::command]
#[specta::specta]
pub async fn reveal_trigger_examples(
    state: State<'_, AppState>,
    name: String,
) -> Result<Vec<String>> {
    state.api.trigger_examples(&name).await
}
