//! How WebKitGTK paints the window on a machine without a GPU.
//!
//! WebKitGTK paints with Skia on OpenGL. Without a GPU, Mesa runs that OpenGL on the CPU
//! (llvmpipe) and compiles every new kind of drawing into a shader with LLVM, at every
//! start, before the first screen shows; Skia's own CPU rasteriser does the same painting
//! without the detour. So when the machine has no GPU, Tripline asks WebKit to paint on the
//! CPU (`WEBKIT_SKIA_ENABLE_CPU_RENDERING=1`): on the benchmark machine the first screen
//! appears about a fifth sooner (BENCHMARKS.md, "Desktop app"). With a GPU nothing
//! changes.
//!
//! `TRIPLINE_PAINTING=gpu|cpu` overrides the guess; a `WEBKIT_SKIA_ENABLE_CPU_RENDERING`
//! already in the environment is the user's own choice and is left alone.

use std::path::Path;
use std::sync::OnceLock;

/// WebKitGTK's switch to Skia's CPU rasteriser.
pub const WEBKIT_CPU_PAINTING: &str = "WEBKIT_SKIA_ENABLE_CPU_RENDERING";
/// Tripline's override: `gpu` or `cpu`.
pub const OVERRIDE: &str = "TRIPLINE_PAINTING";

/// Who paints the web view's tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Painting {
    /// WebKit's default: Skia on OpenGL.
    Gpu,
    /// Skia's CPU rasteriser.
    Cpu,
}

/// What to ask WebKit for, or `None` to leave its environment alone.
///
/// `requested` is [`OVERRIDE`]'s value, `webkit_set` whether [`WEBKIT_CPU_PAINTING`] is
/// already set, `gpu` whether the machine has one. An override that is neither `gpu` nor
/// `cpu` is ignored (the guess stands), so a typo cannot make a start fail.
pub fn choose(requested: Option<&str>, webkit_set: bool, gpu: bool) -> Option<Painting> {
    if webkit_set {
        return None;
    }
    match requested
        .map(str::trim)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("cpu") => Some(Painting::Cpu),
        Some("gpu") => Some(Painting::Gpu),
        _ if gpu => Some(Painting::Gpu),
        _ => Some(Painting::Cpu),
    }
}

/// Whether `dev` (normally `/dev`) offers a GPU: a DRM render node, or NVIDIA's own device
/// for drivers without one. Without either, Mesa can only render in software.
pub fn has_gpu(dev: &Path) -> bool {
    let render_node = std::fs::read_dir(dev.join("dri")).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .any(|entry| entry.file_name().to_string_lossy().starts_with("renderD"))
    });
    render_node || dev.join("nvidia0").exists()
}

/// What [`configure`] decided: `None` when it left WebKit's environment alone.
static CONFIGURED: OnceLock<Option<Painting>> = OnceLock::new();

/// Sets WebKit's painting for this process from the machine and the environment.
///
/// Call it first thing in `main`, before any thread starts: it changes the environment.
pub fn configure() -> Option<Painting> {
    *CONFIGURED.get_or_init(|| {
        let requested = std::env::var(OVERRIDE).ok();
        let webkit_set = std::env::var_os(WEBKIT_CPU_PAINTING).is_some();
        let painting = choose(requested.as_deref(), webkit_set, has_gpu(Path::new("/dev")))?;
        if painting == Painting::Cpu {
            set_webkit_cpu_painting();
        }
        Some(painting)
    })
}

/// Sets [`WEBKIT_CPU_PAINTING`] for this process and the WebKit processes it starts.
///
/// Through GLib's `g_setenv`, the way GTK programs prepare their environment at start (the
/// workspace forbids `unsafe`, which `std::env::set_var` now is). Like `set_var`, it must not
/// race another thread reading the environment: [`configure`] runs before any exists.
#[cfg(target_os = "linux")]
fn set_webkit_cpu_painting() {
    // Only fails for a name with `=` in it, and this one has none.
    let _ = glib::setenv(WEBKIT_CPU_PAINTING, "1", true);
}

/// Elsewhere WebKitGTK is not the web view: nothing to set.
#[cfg(not(target_os = "linux"))]
fn set_webkit_cpu_painting() {}

/// How this process paints, for the Settings screen: `gpu`, `cpu`, or `webkit` when
/// `WEBKIT_SKIA_ENABLE_CPU_RENDERING` came from the environment (or [`configure`] was not
/// called).
pub fn describe() -> &'static str {
    match CONFIGURED.get().copied().flatten() {
        Some(Painting::Gpu) => "gpu",
        Some(Painting::Cpu) => "cpu",
        None => "webkit",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_gpu_webkit_paints_on_the_cpu_and_with_one_as_before() {
        assert_eq!(choose(None, false, false), Some(Painting::Cpu));
        assert_eq!(choose(None, false, true), Some(Painting::Gpu));
    }

    #[test]
    fn the_override_wins_over_the_guess_and_unknown_values_do_not() {
        assert_eq!(choose(Some("gpu"), false, false), Some(Painting::Gpu));
        assert_eq!(choose(Some(" CPU "), false, true), Some(Painting::Cpu));
        assert_eq!(choose(Some("vulkan"), false, true), Some(Painting::Gpu));
        assert_eq!(choose(Some(""), false, false), Some(Painting::Cpu));
    }

    #[test]
    fn a_webkit_setting_of_the_users_own_is_left_alone() {
        assert_eq!(choose(None, true, false), None);
        assert_eq!(choose(Some("gpu"), true, false), None);
    }

    #[test]
    fn a_render_node_or_an_nvidia_device_counts_as_a_gpu() {
        let dev = tempfile::tempdir().expect("temp dir");
        assert!(!has_gpu(dev.path()), "an empty /dev");
        std::fs::create_dir(dev.path().join("dri")).expect("dri");
        std::fs::write(dev.path().join("dri/card0"), "").expect("card0");
        assert!(
            !has_gpu(dev.path()),
            "a display controller alone renders nothing"
        );
        std::fs::write(dev.path().join("dri/renderD128"), "").expect("renderD128");
        assert!(has_gpu(dev.path()));

        let nvidia = tempfile::tempdir().expect("temp dir");
        std::fs::write(nvidia.path().join("nvidia0"), "").expect("nvidia0");
        assert!(has_gpu(nvidia.path()));
    }
}
