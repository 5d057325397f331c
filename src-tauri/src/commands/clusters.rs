//! Clusters: the sandbox and the kubeconfig's contexts, with the applications using each.

use tauri::State;
use tripline_engine::api::ClusterList;

use super::Result;
use crate::state::AppState;

/// Every cluster and which applications use it (and a broken kubeconfig's error).
#[tauri::command]
#[specta::specta]
pub async fn list_clusters(state: State<'_, AppState>) -> Result<ClusterList> {
    state.api.cluster_usage()
}
