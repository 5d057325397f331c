//! The first screen's data, handed to the page before it loads.
//!
//! The window's initialisation script sets `window.__TRIPLINE_BOOT__` to what the first
//! screen shows (the applications and the settings), read while the window is created. The
//! UI renders it in its very first frame instead of a "Loading…" state that a second,
//! slower frame replaces, then reads everything again through the usual commands and keeps
//! it current with events. `ui/src/lib/boot.ts` reads it, once.
//!
//! On Linux it also names the page's fonts ([`Fonts`]): the desktop's own interface font,
//! as GTK knows it, instead of CSS's `system-ui`, which WebKitGTK hands to fontconfig as
//! an alias to probe, family by family, for every weight the first screen uses.

use serde::Serialize;
use tripline_engine::api::{AppOverview, Tripline};

use crate::settings::Settings;

/// What the script hands over; the field types are the commands' own (`list_apps`,
/// `get_settings`), so the UI types it with their generated bindings.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Boot<'a> {
    /// `None` when they cannot be read now (the UI then reads them as usual).
    apps: Option<Vec<AppOverview>>,
    settings: &'a Settings,
    /// `None` where the stylesheet's own stacks are right (macOS, Windows).
    fonts: Option<Fonts>,
}

/// The page's font stacks, as CSS `font-family` values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fonts {
    /// `--font-sans`.
    pub sans: String,
    /// `--font-mono`.
    pub mono: String,
}

/// Families that are fontconfig aliases, not fonts: naming one first only adds lookups.
const GENERIC: &[&str] = &[
    "sans",
    "sans-serif",
    "serif",
    "monospace",
    "system-ui",
    "ui-sans-serif",
];

impl Fonts {
    /// The stacks for the desktop font `family` (GTK's `gtk-font-name` family, e.g.
    /// `Cantarell`): that family, then `sans-serif`. A generic name, or one that could not
    /// be written safely as a CSS string, leaves `sans-serif` alone. Monospace text always
    /// gets the platform's `monospace`.
    pub fn for_desktop(family: Option<&str>) -> Fonts {
        // Pango allows a list ("Cantarell, Sans"); its first is the desktop's choice.
        let first = family.and_then(|f| f.split(',').next()).map(str::trim);
        let named = first.filter(|f| {
            !f.is_empty()
                && f.len() <= 100
                && !GENERIC.iter().any(|g| g.eq_ignore_ascii_case(f))
                && f.chars()
                    .all(|c| !c.is_control() && !matches!(c, '"' | '\\' | '<' | '>'))
        });
        Fonts {
            sans: match named {
                Some(family) => format!("\"{family}\", sans-serif"),
                None => "sans-serif".into(),
            },
            mono: "monospace".into(),
        }
    }
}

/// The desktop's stacks: the family of GTK's interface font (`gtk-font-name`, which follows
/// GNOME's and other desktops' font setting). Call it on the main thread, after GTK starts.
#[cfg(target_os = "linux")]
pub fn desktop_fonts() -> Option<Fonts> {
    use gtk::prelude::GtkSettingsExt as _;
    let name = gtk::Settings::default()?.gtk_font_name()?;
    let description = gtk::pango::FontDescription::from_string(&name);
    Some(Fonts::for_desktop(description.family().as_deref()))
}

/// Elsewhere the stylesheet's `system-ui` is the platform's own font.
#[cfg(not(target_os = "linux"))]
pub fn desktop_fonts() -> Option<Fonts> {
    None
}

/// The initialisation script for the window.
pub fn script(api: &Tripline, settings: &Settings) -> String {
    render(api.app_overviews().ok(), settings, desktop_fonts())
}

fn render(apps: Option<Vec<AppOverview>>, settings: &Settings, fonts: Option<Fonts>) -> String {
    // JSON is a JavaScript expression (U+2028 and U+2029 included, since ES2019);
    // serialising these plain types cannot fail.
    let json = serde_json::to_string(&Boot {
        apps,
        settings,
        fonts,
    })
    .unwrap_or_else(|_| "null".into());
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
        let value = assigned(&render(Some(Vec::new()), &settings, None));
        assert_eq!(value["apps"], serde_json::json!([]));
        assert_eq!(
            value["settings"],
            serde_json::to_value(&settings).unwrap(),
            "the settings as get_settings returns them"
        );
        let unread = assigned(&render(None, &settings, None));
        assert!(
            unread["apps"].is_null(),
            "unreadable apps are left to the UI"
        );
        assert!(
            value["fonts"].is_null(),
            "no fonts: the stylesheet's stacks stand"
        );
        let fonts = Fonts::for_desktop(Some("Cantarell"));
        let with_fonts = assigned(&render(None, &settings, Some(fonts.clone())));
        assert_eq!(with_fonts["fonts"]["sans"], fonts.sans.as_str());
        assert_eq!(with_fonts["fonts"]["mono"], "monospace");
    }

    #[test]
    fn the_desktop_font_comes_first_and_an_alias_is_not_named() {
        let sans = |family| Fonts::for_desktop(family).sans;
        assert_eq!(sans(Some("Cantarell")), "\"Cantarell\", sans-serif");
        assert_eq!(
            sans(Some(" Noto Sans UI , Sans")),
            "\"Noto Sans UI\", sans-serif"
        );
        // GTK's default with no desktop settings is "Sans 10": an alias, so not named.
        for alias in ["Sans", "sans-serif", "System-UI", "monospace", "", " "] {
            assert_eq!(sans(Some(alias)), "sans-serif", "{alias:?}");
        }
        assert_eq!(sans(None), "sans-serif");
        assert_eq!(Fonts::for_desktop(Some("Cantarell")).mono, "monospace");
    }

    #[test]
    fn a_family_that_would_break_out_of_its_css_string_is_not_used() {
        for hostile in [
            "Evil\", sans-serif; } body { display: none",
            "Back\\slash",
            "</style>",
            "Line\nbreak",
            &"x".repeat(101),
        ] {
            assert_eq!(
                Fonts::for_desktop(Some(hostile)).sans,
                "sans-serif",
                "{hostile:?}"
            );
        }
    }
}
