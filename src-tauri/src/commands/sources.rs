//! Applications read from a source (Git): creating one, a repository's branches and tags for
//! a picker, what the newest commit would change, and the revision deployed.

use tauri::State;
use tripline_engine::api::{NewGitApplication, SourcePreview};
use tripline_engine::app::Application;
use tripline_engine::source::Revision;
use tripline_engine::source::git::References;

use super::Result;
use crate::state::AppState;

/// Creates an application from a Git repository; the repository is read first.
#[tauri::command]
#[specta::specta]
pub async fn create_git_app(
    state: State<'_, AppState>,
    app: NewGitApplication,
) -> Result<Application> {
    state.api.create_git_app(app).await
}

/// A repository's branches and tags with their commits; nothing is stored.
#[tauri::command]
#[specta::specta]
pub async fn git_references(
    state: State<'_, AppState>,
    url: String,
    username: Option<String>,
    password: Option<String>,
) -> Result<References> {
    state.api.git_references(&url, username, password).await
}

/// What deploying the application's newest commit would change, without deploying it.
#[tauri::command]
#[specta::specta]
pub async fn source_preview(state: State<'_, AppState>, name: String) -> Result<SourcePreview> {
    state.api.source_preview(&name).await
}

/// The revision the application's latest template version was read from (`null` for a
/// template application or a version written in Tripline).
#[tauri::command]
#[specta::specta]
pub async fn source_revision(state: State<'_, AppState>, name: String) -> Result<Option<Revision>> {
    state.api.source_revision(&name)
}
