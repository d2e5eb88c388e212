//! Wall-clock time <-> instants in a time zone, for every column type that has no zone of
//! its own (PostgreSQL's `timestamp`, MySQL's `DATETIME`) and for casts to dates.
//!
//! Values are µs since the Unix epoch; a wall time is such a count read as UTC, so both
//! kinds fit the same `i64` and the pipeline's timestamp columns.

use anyhow::{Result, anyhow};
use chrono::{NaiveDateTime, TimeZone};
use hakobu_core::zone::Zone;

/// The instant of a wall-clock time (µs since the Unix epoch, read as UTC) in `tz`.
pub fn wall_to_instant(wall_micros: i64, tz: Zone) -> Result<i64> {
    let naive = chrono::DateTime::from_timestamp_micros(wall_micros)
        .ok_or_else(|| anyhow!("timestamp out of range"))?
        .naive_utc();
    let local = tz
        .from_local_datetime(&naive)
        .earliest()
        .ok_or_else(|| anyhow!("{naive} does not exist in {tz} (skipped by a DST change)"))?;
    Ok(local.timestamp_micros())
}

/// The wall-clock time in `tz` of an instant, as µs since the Unix epoch read as UTC.
pub fn instant_to_wall(micros: i64, tz: Zone) -> Result<i64> {
    let utc = chrono::DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| anyhow!("timestamp out of range"))?;
    let wall: NaiveDateTime = utc.with_timezone(&tz).naive_local();
    Ok(wall.and_utc().timestamp_micros())
}
