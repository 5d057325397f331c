//! Preferences, kept with `tauri-plugin-store` in the app's config folder
//! (`settings.json`). Secrets never go here: tokens live in the OS keyring.

use serde::{Deserialize, Serialize};
use tauri::AppHandle;
use tauri_plugin_store::StoreExt as _;
use tripline::runtime::ListenerSettings;

const FILE: &str = "settings.json";
const KEY: &str = "settings";

/// The app's preferences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    /// Where the listener binds (`host:port`).
    pub listen: String,
    /// The base URL callers reach the listener at, for trigger URLs (empty: the address).
    pub public_url: String,
    /// `system`, `light` or `dark`.
    pub theme: Theme,
    /// A desktop notification when a triggered deploy ends.
    pub notifications: bool,
    /// Start with the window hidden (in the tray).
    pub start_minimised: bool,
    /// Start the listener when the app starts.
    pub start_listener: bool,
}

/// The colour scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "kebab-case")]
pub enum Theme {
    /// Follow the desktop.
    System,
    /// Light.
    Light,
    /// Dark.
    Dark,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: ListenerSettings::default().listen,
            public_url: String::new(),
            theme: Theme::System,
            notifications: true,
            start_minimised: false,
            start_listener: true,
        }
    }
}

impl Settings {
    /// The listener part.
    pub fn listener(&self) -> ListenerSettings {
        ListenerSettings {
            listen: self.listen.trim().to_owned(),
            public_url: Some(self.public_url.trim().to_owned()).filter(|u| !u.is_empty()),
        }
    }
}

/// The saved settings, or the defaults (a damaged file is not fatal: defaults are used and
/// the next save rewrites it). `TRIPLINE_LISTEN` overrides the address, for tests.
pub fn load(app: &AppHandle) -> Settings {
    let mut settings: Settings = app
        .store(FILE)
        .ok()
        .and_then(|store| store.get(KEY))
        .and_then(|value| serde_json::from_value(value).ok())
        .unwrap_or_default();
    if let Ok(listen) = std::env::var("TRIPLINE_LISTEN") {
        settings.listen = listen;
    }
    settings
}

/// Writes the settings to disk.
pub fn save(app: &AppHandle, settings: &Settings) -> Result<(), tripline::error::ErrorBody> {
    let failed = |e: &dyn std::fmt::Display| {
        tripline::error::ErrorBody::new("settings.io", format!("cannot save the settings: {e}"))
    };
    let store = app.store(FILE).map_err(|e| failed(&e))?;
    let value = serde_json::to_value(settings).map_err(|e| failed(&e))?;
    store.set(KEY, value);
    store.save().map_err(|e| failed(&e))
}
