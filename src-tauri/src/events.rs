//! Engine broadcasts pushed to the window as typed events (the UI never polls), to the tray,
//! and — for deploys a trigger started — to desktop notifications.

use serde::Serialize;
use tauri::{AppHandle, Manager as _};
use tauri_plugin_notification::NotificationExt as _;
use tauri_specta::Event as _;
use tokio::sync::broadcast::{Receiver, error::RecvError};
use tripline_engine::api::ListenerStatus;
use tripline_engine::deploy::worker::{DeployEvent, Event};
use tripline_engine::listener::Recorded;
use tripline_engine::store::{Cause, ReleaseStatus};

use crate::state::AppState;
use crate::tray;

/// A release moved (queued, started, progressed, finished).
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct DeployProgress(pub DeployEvent);

/// The listener recorded a call; its access record is in the database.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct AccessRecorded(pub Recorded);

/// The listener started, stopped or failed to start.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct ListenerChanged(pub ListenerStatus);

/// Starts the forwarding tasks; they end when the app's state is cancelled.
pub fn forward(app: &AppHandle) {
    let state = app.state::<AppState>();
    let cancel = state.cancel.clone();
    follow(
        app,
        cancel.clone(),
        state.api.subscribe_deploys(),
        on_deploy,
    );
    follow(
        app,
        cancel.clone(),
        state.api.subscribe_records(),
        on_record,
    );
    follow(app, cancel, state.api.subscribe_listener(), on_listener);
}

fn follow<T: Clone + Send + 'static>(
    app: &AppHandle,
    cancel: tokio_util::sync::CancellationToken,
    mut incoming: Receiver<T>,
    handle: fn(&AppHandle, T),
) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                next = incoming.recv() => match next {
                    Ok(value) => handle(&app, value),
                    // A burst outran us: the views reload on the next event anyway.
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => break,
                },
            }
        }
    });
}

fn on_deploy(app: &AppHandle, event: DeployEvent) {
    if let Event::Finished {
        status, message, ..
    } = &event.event
    {
        notify_if_triggered(app, &event, *status, message);
    }
    let _ = DeployProgress(event).emit(app);
}

fn on_record(app: &AppHandle, recorded: Recorded) {
    let state = app.state::<AppState>();
    if recorded.trigger.is_some() {
        state.remember(recorded.clone());
        tray::refresh(app);
    }
    let _ = AccessRecorded(recorded).emit(app);
}

fn on_listener(app: &AppHandle, status: ListenerStatus) {
    tray::refresh(app);
    let _ = ListenerChanged(status).emit(app);
}

/// A desktop notification when a deploy that a trigger started ends (people's own deploys
/// are in front of them already).
fn notify_if_triggered(app: &AppHandle, event: &DeployEvent, status: ReleaseStatus, message: &str) {
    let state = app.state::<AppState>();
    if !state.settings().notifications {
        return;
    }
    let Ok(release) = state.api.release(event.release) else {
        return;
    };
    let Cause::Trigger { trigger, .. } = &release.cause else {
        return;
    };
    let title = match status {
        ReleaseStatus::Succeeded => format!("{} deployed", event.app),
        ReleaseStatus::Failed => format!("{} failed to deploy", event.app),
        _ => return,
    };
    let _ = app
        .notification()
        .builder()
        .title(title)
        .body(format!(
            "Trigger {trigger}, release {}: {message}",
            release.number
        ))
        .show();
}
