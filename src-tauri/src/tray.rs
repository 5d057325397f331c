//! The tray: Tripline stays here when its window is closed, with the listener still serving.
//!
//! Menu: open the window, the listener's status with start/stop, the last few trigger calls,
//! quit. The menu is rebuilt when the listener changes or a call is recorded (pushed by
//! [`crate::events`]), never on a timer.

use tauri::image::Image;
use tauri::menu::{Menu, MenuBuilder, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager as _};
use tripline_engine::api::ListenerStatus;
use tripline_engine::listener::Recorded;

use crate::state::AppState;

const TRAY: &str = "tripline";
const OPEN: &str = "open";
const TOGGLE: &str = "listener-toggle";
const QUIT: &str = "quit";

/// Creates the tray icon (once, at start).
pub fn create(app: &AppHandle) -> tauri::Result<()> {
    let status = tauri::async_runtime::block_on(app.state::<AppState>().api.listener_status());
    let menu = menu(app, &status, &[])?;
    TrayIconBuilder::with_id(TRAY)
        .icon(icon(status.running)?)
        .tooltip(tooltip(&status))
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id().as_ref() {
            OPEN => show_window(app),
            TOGGLE => toggle_listener(app),
            QUIT => quit(app),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                show_window(tray.app_handle());
            }
        })
        .build(app)?;
    Ok(())
}

/// Rebuilds the menu, icon and tooltip from the current state.
pub fn refresh(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let status = state.api.listener_status().await;
        let recent = state.recent();
        let Some(tray) = app.tray_by_id(TRAY) else {
            return;
        };
        if let Ok(menu) = menu(&app, &status, &recent) {
            let _ = tray.set_menu(Some(menu));
        }
        if let Ok(icon) = icon(status.running) {
            let _ = tray.set_icon(Some(icon));
        }
        let _ = tray.set_tooltip(Some(tooltip(&status)));
    });
}

fn menu(
    app: &AppHandle,
    status: &ListenerStatus,
    recent: &[Recorded],
) -> tauri::Result<Menu<tauri::Wry>> {
    let mut builder = MenuBuilder::new(app)
        .item(&MenuItem::with_id(
            app,
            OPEN,
            "Open Tripline",
            true,
            None::<&str>,
        )?)
        .item(&PredefinedMenuItem::separator(app)?)
        .item(&MenuItem::with_id(
            app,
            "listener-status",
            listener_line(status),
            false,
            None::<&str>,
        )?)
        .item(&MenuItem::with_id(
            app,
            TOGGLE,
            if status.running {
                "Stop listener"
            } else {
                "Start listener"
            },
            true,
            None::<&str>,
        )?)
        .item(&PredefinedMenuItem::separator(app)?);
    if recent.is_empty() {
        builder = builder.item(&MenuItem::with_id(
            app,
            "recent-none",
            "No trigger calls yet",
            false,
            None::<&str>,
        )?);
    } else {
        builder = builder.item(&MenuItem::with_id(
            app,
            "recent-title",
            "Recent trigger calls",
            false,
            None::<&str>,
        )?);
        for (i, call) in recent.iter().enumerate() {
            builder = builder.item(&MenuItem::with_id(
                app,
                format!("recent-{i}"),
                recent_line(call),
                false,
                None::<&str>,
            )?);
        }
    }
    builder
        .item(&PredefinedMenuItem::separator(app)?)
        .item(&MenuItem::with_id(
            app,
            QUIT,
            "Quit Tripline",
            true,
            None::<&str>,
        )?)
        .build()
}

fn listener_line(status: &ListenerStatus) -> String {
    match (&status.running, &status.error) {
        (true, _) => format!("Listener: running on {}", status.address),
        (false, Some(error)) => format!("Listener: stopped — {error}"),
        (false, None) => "Listener: stopped".into(),
    }
}

/// `demo-redeploy: 202 triggered (12:04:05)`, with `×N` for N identical calls in a row.
fn recent_line(call: &Recorded) -> String {
    let time = call.at.get(11..19).unwrap_or(&call.at);
    let repeats = if call.repeats > 1 {
        format!(" ×{}", call.repeats)
    } else {
        String::new()
    };
    format!(
        "{}: {} {}{repeats} ({time})",
        call.trigger.as_deref().unwrap_or("unknown token"),
        call.status,
        call.decision.as_str(),
    )
}

fn tooltip(status: &ListenerStatus) -> String {
    format!("Tripline — {}", listener_line(status).to_lowercase())
}

fn icon(running: bool) -> tauri::Result<Image<'static>> {
    let bytes: &'static [u8] = if running {
        include_bytes!("../../icons/tray.png")
    } else {
        include_bytes!("../../icons/tray-stopped.png")
    };
    Image::from_bytes(bytes)
}

fn show_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window(crate::MAIN_WINDOW) {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

fn toggle_listener(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        if state.api.listener_status().await.running {
            state.api.stop_listener().await;
        } else {
            // A failure shows in the menu's status line and on the Listener screen.
            let _ = state.api.start_listener(state.settings().listener()).await;
        }
    });
}

fn quit(app: &AppHandle) {
    // `exit` runs RunEvent::Exit, where the state shuts the engine down.
    app.exit(0);
}

#[cfg(test)]
mod tests {
    use tripline_engine::store::Decision;

    use super::*;

    fn status(running: bool, error: Option<&str>) -> ListenerStatus {
        ListenerStatus {
            running,
            address: "127.0.0.1:8787".into(),
            public_url: "http://127.0.0.1:8787".into(),
            error: error.map(str::to_owned),
            requests: Vec::new(),
        }
    }

    #[test]
    fn the_status_line_says_where_the_listener_is_or_why_it_is_not() {
        assert_eq!(
            listener_line(&status(true, None)),
            "Listener: running on 127.0.0.1:8787"
        );
        assert_eq!(listener_line(&status(false, None)), "Listener: stopped");
        assert_eq!(
            listener_line(&status(
                false,
                Some("cannot listen on 127.0.0.1:8787: address in use")
            )),
            "Listener: stopped — cannot listen on 127.0.0.1:8787: address in use"
        );
    }

    #[test]
    fn recent_calls_name_the_trigger_status_decision_and_time() {
        let mut call = Recorded {
            trigger: Some("demo-redeploy".into()),
            repeats: 1,
            decision: Decision::Triggered,
            reason: "triggered: release queued".into(),
            status: 202,
            release: Some(7),
            at: "2026-11-22T04:38:08Z".into(),
        };
        assert_eq!(
            recent_line(&call),
            "demo-redeploy: 202 triggered (04:38:08)"
        );
        call.trigger = None;
        call.status = 404;
        call.decision = Decision::Rejected;
        call.at = "garbled".into();
        assert_eq!(recent_line(&call), "unknown token: 404 rejected (garbled)");
        call.repeats = 1200;
        assert_eq!(
            recent_line(&call),
            "unknown token: 404 rejected ×1200 (garbled)"
        );
    }
}
