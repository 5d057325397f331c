//! Clusters: the sandbox and the kubeconfig's contexts, with the applications using each.

use tauri::State;
use tripline::runtime::AppUsage;

use super::Result;
use crate::state::AppState;

/// Every cluster and which applications use it.
#[tauri::command]
#[specta::specta]
pub async fn list_clusters(state: State<'_, AppState>) -> Result<Vec<AppUsage>> {
    state.runtime.cluster_usage()
}
