//! Preferences, kept with `tauri-plugin-store` in the app's config folder
//! (`settings.json`). Secrets never go here: tokens live in the OS keyring.

use serde::{Deserialize, Serialize};
use tauri::AppHandle;
use tauri_plugin_store::StoreExt as _;
use tripline_engine::api::ListenerSettings;
use tripline_engine::error::Code;

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
    /// Reverse proxies or tunnels whose `X-Forwarded-For` names the caller: addresses or
    /// networks separated by commas, spaces or new lines (empty: none; the peer is the caller).
    pub trusted_proxies: String,
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
            trusted_proxies: String::new(),
        }
    }
}

impl Settings {
    /// The listener part.
    pub fn listener(&self) -> ListenerSettings {
        ListenerSettings {
            listen: self.listen.trim().to_owned(),
            public_url: Some(self.public_url.trim().to_owned()).filter(|u| !u.is_empty()),
            trusted_proxies: self
                .trusted_proxies
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|entry| !entry.is_empty())
                .map(str::to_owned)
                .collect(),
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
pub fn save(app: &AppHandle, settings: &Settings) -> Result<(), tripline_engine::error::ErrorBody> {
    let failed = |e: &dyn std::fmt::Display| {
        tripline_engine::error::ErrorBody::new(
            Code::SettingsIo,
            format!("cannot save the settings: {e}"),
        )
    };
    let store = app.store(FILE).map_err(|e| failed(&e))?;
    let value = serde_json::to_value(settings).map_err(|e| failed(&e))?;
    store.set(KEY, value);
    store.save().map_err(|e| failed(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_proxies_are_split_on_commas_spaces_and_new_lines() {
        let settings = Settings {
            trusted_proxies: " 127.0.0.1,10.0.0.0/8\n\n fd00::/8 ,, ".into(),
            ..Settings::default()
        };
        assert_eq!(
            settings.listener().trusted_proxies,
            ["127.0.0.1", "10.0.0.0/8", "fd00::/8"]
        );
        let valid = settings.listener().validate().unwrap();
        assert_eq!(valid.trusted_proxies.len(), 3);
        let bad = Settings {
            trusted_proxies: "127.0.0.1, proxy.local".into(),
            ..Settings::default()
        };
        let error = bad.listener().validate().unwrap_err();
        assert_eq!(error.code, "listener.trusted_proxy");
        assert!(error.message.contains("proxy.local"), "{}", error.message);
    }

    #[test]
    fn settings_saved_before_trusted_proxies_existed_still_load() {
        let old = serde_json::json!({"listen": "127.0.0.1:9000", "publicUrl": "", "theme": "dark",
            "notifications": false, "startMinimised": true, "startListener": false});
        let settings: Settings = serde_json::from_value(old).unwrap();
        assert_eq!(settings.listen, "127.0.0.1:9000");
        assert!(settings.trusted_proxies.is_empty());
        assert!(settings.listener().trusted_proxies.is_empty());
    }
}
