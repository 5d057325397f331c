//! Applications: list, detail, create (from a template; from Git in [`super::sources`]), hold,
//! deploy, rollback, live workloads and rollout, the demo.

use tauri::State;
use tripline_engine::api::{AppDetail, AppOverview, Demo};
use tripline_engine::app::{Application, NewApplication};
use tripline_engine::deploy::live::{RolloutState, Workload};
use tripline_engine::store::Release;

use super::Result;
use crate::state::AppState;

/// Every application with its newest release.
#[tauri::command]
#[specta::specta]
pub async fn list_apps(state: State<'_, AppState>) -> Result<Vec<AppOverview>> {
    state.api.app_overviews()
}

/// One application with its last 50 releases and its triggers.
#[tauri::command]
#[specta::specta]
pub async fn get_app(state: State<'_, AppState>, name: String) -> Result<AppDetail> {
    state.api.app_detail(&name, 50)
}

/// Creates an application.
#[tauri::command]
#[specta::specta]
pub async fn create_app(state: State<'_, AppState>, app: NewApplication) -> Result<Application> {
    state.api.create_app(&app)
}

/// Deletes an application; its triggers (tokens included) and releases go with it.
#[tauri::command]
#[specta::specta]
pub async fn delete_app(state: State<'_, AppState>, name: String) -> Result<()> {
    state.api.delete_app(&name)
}

/// Puts an application on hold (triggers answer 409) with a reason, or releases it (`None`).
#[tauri::command]
#[specta::specta]
pub async fn hold_app(
    state: State<'_, AppState>,
    name: String,
    reason: Option<String>,
) -> Result<Application> {
    state.api.hold_app(&name, reason.as_deref())
}

/// Queues a deploy; progress arrives as `DeployProgress` events.
#[tauri::command]
#[specta::specta]
pub async fn deploy_app(state: State<'_, AppState>, name: String) -> Result<Release> {
    state.api.deploy(&name)
}

/// Makes a new template version equal to `to` and deploys it.
#[tauri::command]
#[specta::specta]
pub async fn rollback_app(state: State<'_, AppState>, name: String, to: u32) -> Result<Release> {
    state.api.rollback(&name, to)
}

/// The application's workloads and pods, as the cluster reports them now.
#[tauri::command]
#[specta::specta]
pub async fn list_workloads(state: State<'_, AppState>, name: String) -> Result<Vec<Workload>> {
    state.api.workloads(&name).await
}

/// The application's rollout as the cluster reports it now (`null` without workloads).
#[tauri::command]
#[specta::specta]
pub async fn get_rollout(state: State<'_, AppState>, name: String) -> Result<Option<RolloutState>> {
    state.api.rollout(&name).await
}

/// "Try it on the sandbox": the seed's demo application with a redeploy trigger, deployed.
#[tauri::command]
#[specta::specta]
pub async fn create_demo(state: State<'_, AppState>) -> Result<Demo> {
    state.api.create_demo()
}
