//! The one managed state: the engine's façade ([`Tripline`]), the settings, the last few
//! trigger calls (for the tray) and the cancellation token every background task of the shell
//! shares.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio_util::sync::CancellationToken;
use tripline_engine::api::Tripline;
use tripline_engine::listener::Recorded;

use crate::settings::Settings;

/// How many recent trigger calls the tray lists.
pub const RECENT: usize = 5;

/// What every command and task shares.
pub struct AppState {
    /// The engine.
    pub api: Arc<Tripline>,
    settings: Mutex<Settings>,
    recent: Mutex<VecDeque<Recorded>>,
    /// Stops the shell's background tasks (event forwarding).
    pub cancel: CancellationToken,
}

impl AppState {
    /// State over an open façade.
    pub fn new(api: Arc<Tripline>, settings: Settings) -> Self {
        AppState {
            api,
            settings: Mutex::new(settings),
            recent: Mutex::new(VecDeque::with_capacity(RECENT)),
            cancel: CancellationToken::new(),
        }
    }

    /// The current settings.
    pub fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    /// Replaces the settings in memory (the caller saves them).
    pub fn set_settings(&self, settings: Settings) {
        *lock(&self.settings) = settings;
    }

    /// Remembers a trigger call for the tray.
    pub fn remember(&self, recorded: Recorded) {
        let mut recent = lock(&self.recent);
        if recent.len() == RECENT {
            recent.pop_back();
        }
        recent.push_front(recorded);
    }

    /// The last few trigger calls, newest first.
    pub fn recent(&self) -> Vec<Recorded> {
        lock(&self.recent).iter().cloned().collect()
    }

    /// Stops the shell's tasks, then the engine (listener drained, workers stopped).
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        self.api.shutdown().await;
    }
}

/// These locks guard plain data: a panic elsewhere cannot leave it half-written.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
