//! Applications read from a source (Git or a Helm chart): creating one, a repository's
//! branches and tags or a chart's versions for a picker, what the newest commit would change,
//! the revision deployed, and a Helm application's values and their versions.

use tauri::State;
use tripline_engine::api::{NewGitApplication, NewHelmApplication, SourcePreview, ValuesDiff};
use tripline_engine::app::Application;
use tripline_engine::source::Revision;
use tripline_engine::source::git::References;
use tripline_engine::store::{ValuesSaved, ValuesSummary, ValuesVersion};

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

/// Creates an application from a Helm chart; the chart is resolved and rendered first.
#[tauri::command]
#[specta::specta]
pub async fn create_helm_app(
    state: State<'_, AppState>,
    app: NewHelmApplication,
) -> Result<Application> {
    state.api.create_helm_app(app).await
}

/// A chart's versions, newest first, for a version picker; nothing is stored. A user name
/// without a token is ignored, as the dialog sends both or neither.
#[tauri::command]
#[specta::specta]
pub async fn chart_versions(
    state: State<'_, AppState>,
    repository: String,
    chart: String,
    plain_http: bool,
    username: Option<String>,
    password: Option<String>,
) -> Result<Vec<String>> {
    state
        .api
        .chart_versions(&repository, &chart, plain_http, username, password)
        .await
}

/// One values version of a Helm application (`null`: the latest).
#[tauri::command]
#[specta::specta]
pub async fn app_values(
    state: State<'_, AppState>,
    name: String,
    number: Option<u32>,
) -> Result<ValuesVersion> {
    state.api.values(&name, number)
}

/// A Helm application's values versions, oldest first.
#[tauri::command]
#[specta::specta]
pub async fn app_values_versions(
    state: State<'_, AppState>,
    name: String,
) -> Result<Vec<ValuesSummary>> {
    state.api.values_versions(&name)
}

/// Saves a Helm application's next values version (none when the text is unchanged); the
/// next deploy renders the chart with it.
#[tauri::command]
#[specta::specta]
pub async fn save_app_values(
    state: State<'_, AppState>,
    name: String,
    content: String,
    message: String,
) -> Result<ValuesSaved> {
    state.api.save_values(&name, &content, &message)
}

/// Two values versions of a Helm application and a unified diff of them.
#[tauri::command]
#[specta::specta]
pub async fn diff_app_values(
    state: State<'_, AppState>,
    name: String,
    from: u32,
    to: u32,
) -> Result<ValuesDiff> {
    state.api.diff_values(&name, from, to)
}
