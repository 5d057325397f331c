//! The first screen's data, handed to the page before it loads.
//!
//! The window's initialisation script sets `window.__TRIPLINE_BOOT__` to what the first
//! screen shows (the applications and the settings), read while the window is created. The
//! UI renders it in its very first frame instead of a "Loading…" state that a second,
//! slower frame replaces, then reads everything again through the usual commands and keeps
//! it current with events. `ui/src/lib/boot.ts` reads it, once.

use serde::Serialize;
use tripline::runtime::{AppOverview, Runtime};

use crate::settings::Settings;

/// What the script hands over; the field types are the commands' own (`list_apps`,
/// `get_settings`), so the UI types it with their generated bindings.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Boot<'a> {
    /// `None` when they cannot be read now (the UI then reads them as usual).
    apps: Option<Vec<AppOverview>>,
    settings: &'a Settings,
}

/// The initialisation script for the window.
pub fn script(runtime: &Runtime, settings: &Settings) -> String {
    render(runtime.app_overviews().ok(), settings)
}

fn render(apps: Option<Vec<AppOverview>>, settings: &Settings) -> String {
    // JSON is a JavaScript expression (U+2028 and U+2029 included, since ES2019);
    // serialising these plain types cannot fail.
    let json = serde_json::to_string(&Boot { apps, settings }).unwrap_or_else(|_| "null".into());
    format!("window.__TRIPLINE_BOOT__ = {json};")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assigned(script: &str) -> serde_json::Value {
        let json = script
            .strip_prefix("window.__TRIPLINE_BOOT__ = ")
            .and_then(|s| s.strip_suffix(';'))
            .expect("one assignment");
        serde_json::from_str(json).expect("one JSON value")
    }

    #[test]
    fn the_script_assigns_the_first_screen_as_one_json_value() {
        // Text a person typed goes in as data, whatever it holds.
        let settings = Settings {
            public_url: "https://x/</script><script>alert(1)</script>\u{2028}\"'`${1}".into(),
            ..Settings::default()
        };
        let value = assigned(&render(Some(Vec::new()), &settings));
        assert_eq!(value["apps"], serde_json::json!([]));
        assert_eq!(
            value["settings"],
            serde_json::to_value(&settings).unwrap(),
            "the settings as get_settings returns them"
        );
        let unread = assigned(&render(None, &settings));
        assert!(
            unread["apps"].is_null(),
            "unreadable apps are left to the UI"
        );
    }
}
