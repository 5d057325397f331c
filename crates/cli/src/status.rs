//! `tripline status`: where Tripline keeps its data, how big it is, and what waits.

use serde::Serialize;
use tripline_engine::error::ErrorBody;
use tripline_engine::store::Retention;

use crate::Context;

/// What `tripline status` reports.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    data_dir: String,
    database: String,
    database_bytes: u64,
    schema_version: u32,
    access_records: u64,
    retention: Retention,
    queued_releases: u64,
    running_releases: u64,
}

/// `tripline status`
pub fn run(cx: &mut Context) -> Result<(), ErrorBody> {
    let database = cx.tripline.database_status()?;
    let status = Status {
        data_dir: cx.data_dir.display().to_string(),
        database: database.path.display().to_string(),
        database_bytes: database.bytes,
        schema_version: database.schema_version,
        access_records: database.access_records,
        retention: Retention::default(),
        queued_releases: database.queued_releases,
        running_releases: database.running_releases,
    };
    if cx.json {
        return cx.print_json(&status);
    }
    say!("Data folder     {}", status.data_dir);
    say!(
        "Database        {} ({}, schema {})",
        status.database,
        size(status.database_bytes),
        status.schema_version
    );
    say!(
        "Access records  {} (tripline serve keeps them {} by default)",
        status.access_records,
        status.retention
    );
    say!(
        "Releases        {} queued, {} running{}",
        status.queued_releases,
        status.running_releases,
        if status.queued_releases > 0 {
            " (carried out by tripline serve or the desktop app)"
        } else {
            ""
        }
    );
    Ok(())
}

/// 1234567 → "1.2 MiB".
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_in_binary_units() {
        for (bytes, text) in [
            (0, "0 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (1_258_291, "1.2 MiB"),
            (5 * 1024 * 1024 * 1024, "5.0 GiB"),
        ] {
            assert_eq!(super::size(bytes), text);
        }
    }
}
