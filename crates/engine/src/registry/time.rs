//! Push times, which registries write in three ways, all turned into RFC 3339 in UTC
//! (`2014-12-03T00:22:41Z`) so that records compare and sort as text.
//!
//! - Unix seconds, integer or fractional (Docker Hub's `1.417566161e+09`, Harbor's
//!   `occur_at`);
//! - RFC 3339 with any offset and precision (distribution, Azure, GitHub, CloudEvents);
//! - Alibaba ACR's zone-less `2016-11-29 12:25:46`, read as China Standard Time (UTC+8),
//!   the time zone of Alibaba Cloud's consoles: the payload does not say, so this is a
//!   documented assumption.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::Offset;

use super::Result;
use super::json::Node;
use super::reference::preview;

/// The offset assumed for Alibaba ACR's local times.
const ACR_OFFSET_HOURS: i8 = 8;

/// A number of Unix seconds (possibly fractional) as RFC 3339.
pub(super) fn unix_seconds(node: &Node<'_>) -> Result<String> {
    let seconds = node
        .value()
        .as_f64()
        .ok_or_else(|| node.wrong_type("a number of Unix seconds"))?;
    // Milliseconds keep Docker Hub's fractional seconds without trusting f64 nanoseconds.
    let millis = (seconds * 1000.0).round();
    if !millis.is_finite() || millis.abs() > i64::MAX as f64 {
        return Err(node.invalid(format!("{seconds} is not a time")));
    }
    Timestamp::from_millisecond(millis as i64)
        .map(|t| t.to_string())
        .map_err(|e| node.invalid(format!("{seconds} is not a time: {e}")))
}

/// An RFC 3339 string (with an offset), normalised to UTC.
pub(super) fn rfc3339(node: &Node<'_>) -> Result<String> {
    let text = node.str()?;
    rfc3339_text(text)
        .map_err(|e| node.invalid(format!("{:?} is not an RFC 3339 time: {e}", preview(text))))
}

/// [`rfc3339`] of a string already read.
pub(super) fn rfc3339_text(text: &str) -> std::result::Result<String, jiff::Error> {
    text.parse::<Timestamp>().map(|t| t.to_string())
}

/// Like [`rfc3339`], but Go's zero time (`0001-01-01T00:00:00Z`, which GitHub sends for
/// "unknown") is `None`.
pub(super) fn rfc3339_unless_zero(node: &Node<'_>) -> Result<Option<String>> {
    let text = node.str()?;
    if text.is_empty() || text.starts_with("0001-01-01") {
        return Ok(None);
    }
    rfc3339(node).map(Some)
}

/// Alibaba ACR's `YYYY-MM-DD HH:MM:SS`, read as UTC+8.
pub(super) fn acr_local(node: &Node<'_>) -> Result<String> {
    let text = node.str()?;
    let civil = text
        .parse::<DateTime>()
        .map_err(|e| node.invalid(format!("{:?} is not a date and time: {e}", preview(text))))?;
    Offset::constant(ACR_OFFSET_HOURS)
        .to_timestamp(civil)
        .map(|t| t.to_string())
        .map_err(|e| node.invalid(format!("{:?} is out of range: {e}", preview(text))))
}
