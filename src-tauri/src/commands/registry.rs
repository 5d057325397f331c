//! Container registries: each host's credentials (where they come from, never what they are),
//! its rate-limit budget and last failure; logging in and out; a repository's real tags.

use tauri::State;
use tripline_engine::api::{RegistryHostStatus, RegistryLogin, RegistryTags};

use super::Result;
use crate::state::AppState;

/// Every registry host image triggers name or that was logged in to, with its credentials'
/// origin, budget and last failure.
#[tauri::command]
#[specta::specta]
pub async fn list_registries(state: State<'_, AppState>) -> Result<Vec<RegistryHostStatus>> {
    state.api.registry_status()
}

/// Checks the credentials against the registry, then keeps them in the OS keyring. The
/// password goes from the UI to the keyring and never back.
#[tauri::command]
#[specta::specta]
pub async fn login_registry(
    state: State<'_, AppState>,
    host: String,
    username: String,
    password: String,
) -> Result<RegistryLogin> {
    state.api.registry_login(&host, &username, &password).await
}

/// Forgets the credentials kept for a host; returns its status after.
#[tauri::command]
#[specta::specta]
pub async fn logout_registry(
    state: State<'_, AppState>,
    host: String,
) -> Result<RegistryHostStatus> {
    state.api.registry_logout(&host)
}

/// A repository's tags, as its registry lists them.
#[tauri::command]
#[specta::specta]
pub async fn list_registry_tags(
    state: State<'_, AppState>,
    repository: String,
) -> Result<RegistryTags> {
    state.api.registry_tags(&repository).await
}
