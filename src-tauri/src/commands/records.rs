//! Access records: the calls the listener answered, newest first, paged.

use serde::Deserialize;
use tauri::State;
use tripline_engine::store::{AccessRecord, Decision, RecordFilter, RecordSummary};

use super::Result;
use crate::state::AppState;

/// Which records to list.
#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RecordQuery {
    /// Only this trigger's.
    pub trigger: Option<String>,
    /// Only with this decision.
    pub decision: Option<Decision>,
    /// Only records older than this id (the last one of the previous page).
    pub before: Option<i64>,
    /// Page size (1–1,000).
    pub limit: u32,
}

/// A page of access records, newest first, as a list shows them: without their headers,
/// bodies, events and responses (`get_record` has those).
#[tauri::command]
#[specta::specta]
pub async fn list_records(
    state: State<'_, AppState>,
    query: RecordQuery,
) -> Result<Vec<RecordSummary>> {
    let filter = RecordFilter {
        trigger: query.trigger.as_deref(),
        decision: query.decision,
        before: query.before,
        limit: usize::try_from(query.limit.clamp(1, 1000)).unwrap_or(1000),
    };
    state.api.record_summaries(&filter)
}

/// One access record with its request, event, decision and response.
#[tauri::command]
#[specta::specta]
pub async fn get_record(state: State<'_, AppState>, id: i64) -> Result<AccessRecord> {
    state.api.record(id)
}
