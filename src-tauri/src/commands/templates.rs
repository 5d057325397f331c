//! Templates: list, versions, check, save (a new version), diff, rollback, delete.

use tauri::State;
use tripline_engine::api::{TemplateCheck, Tripline, VersionDiff};
use tripline_engine::store::{SaveOutcome, TemplateSummary, Version, VersionSummary};

use super::Result;
use crate::state::AppState;

/// Every template with its newest version.
#[tauri::command]
#[specta::specta]
pub async fn list_templates(state: State<'_, AppState>) -> Result<Vec<TemplateSummary>> {
    state.api.templates()
}

/// A version's content (the newest when `number` is absent).
#[tauri::command]
#[specta::specta]
pub async fn get_version(
    state: State<'_, AppState>,
    template: String,
    number: Option<u32>,
) -> Result<Version> {
    state.api.version(&template, number)
}

/// Every version of a template, oldest first.
#[tauri::command]
#[specta::specta]
pub async fn list_versions(
    state: State<'_, AppState>,
    template: String,
) -> Result<Vec<VersionSummary>> {
    state.api.versions(&template)
}

/// Checks template text as a save would; problems come with their line.
#[tauri::command]
#[specta::specta]
pub async fn check_template(content: String) -> Result<TemplateCheck> {
    Ok(Tripline::check_template(&content))
}

/// Creates a template; its first version is `content`.
#[tauri::command]
#[specta::specta]
pub async fn create_template(
    state: State<'_, AppState>,
    name: String,
    content: String,
    message: String,
) -> Result<VersionSummary> {
    state.api.create_template(&name, &content, &message)
}

/// Saves an edit as a new version (or reports that nothing changed).
#[tauri::command]
#[specta::specta]
pub async fn save_template(
    state: State<'_, AppState>,
    name: String,
    content: String,
    message: String,
) -> Result<SaveOutcome> {
    state.api.save_template(&name, &content, &message)
}

/// Two versions and their differences, per object and field.
#[tauri::command]
#[specta::specta]
pub async fn diff_versions(
    state: State<'_, AppState>,
    template: String,
    from: u32,
    to: u32,
) -> Result<VersionDiff> {
    state.api.diff_versions(&template, from, to)
}

/// Makes a new version equal to version `to` (without deploying).
#[tauri::command]
#[specta::specta]
pub async fn rollback_template(
    state: State<'_, AppState>,
    template: String,
    to: u32,
    message: String,
) -> Result<SaveOutcome> {
    state.api.rollback_template(&template, to, &message)
}

/// Deletes a template no application uses.
#[tauri::command]
#[specta::specta]
pub async fn delete_template(state: State<'_, AppState>, name: String) -> Result<()> {
    state.api.delete_template(&name)
}
