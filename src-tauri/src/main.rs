//! The Tripline desktop app's entry point (everything is in the library, for tests).

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    tripline_desktop::run();
}
