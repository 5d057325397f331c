//! The Tripline desktop app's entry point (everything is in the library, for tests).

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // Before anything starts a thread: it may set WebKit's environment.
    tripline_desktop::painting::configure();
    tripline_desktop::run();
}
