//! How far a transfer is, from what its source expected to read (a table's statistics,
//! its files' sizes): one rule for the run page and the runner's progress bar.

/// A run's share done, and whether it rests on an estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Done {
    /// From 0 to 1.
    pub fraction: f64,
    /// From a table's row statistics (shown as "about"); bytes of listed files are exact.
    pub estimated: bool,
}

/// The highest share an estimate shows before the run ends: statistics can be low, and a
/// bar at 100% that keeps going says nothing.
const ESTIMATE_CEILING: f64 = 0.99;

/// The share done: by bytes when the files' sizes are known (exact), else by rows against
/// the table's statistics (an estimate). `None` when the source could not tell.
pub fn done(
    rows_read: u64,
    bytes_read: u64,
    rows_expected: Option<u64>,
    bytes_expected: Option<u64>,
) -> Option<Done> {
    if let Some(total) = bytes_expected.filter(|t| *t > 0) {
        return Some(Done {
            fraction: (bytes_read as f64 / total as f64).min(1.0),
            estimated: false,
        });
    }
    let total = rows_expected.filter(|t| *t > 0)?;
    Some(Done {
        fraction: (rows_read as f64 / total as f64).min(ESTIMATE_CEILING),
        estimated: true,
    })
}

/// Seconds left at the pace so far, once there is a pace to go by (1% done).
pub fn seconds_left(elapsed_seconds: f64, fraction: f64) -> Option<f64> {
    (fraction >= 0.01 && elapsed_seconds > 0.0)
        .then(|| (elapsed_seconds * (1.0 - fraction) / fraction).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_exact_and_rows_an_estimate_held_below_the_end() {
        let by_bytes = done(10, 250, Some(1000), Some(1000)).unwrap();
        assert_eq!(by_bytes.fraction, 0.25);
        assert!(!by_bytes.estimated);
        let by_rows = done(500, 0, Some(1000), None).unwrap();
        assert_eq!(by_rows.fraction, 0.5);
        assert!(by_rows.estimated);
        // Statistics lower than the truth: "about 99%", never past it.
        assert_eq!(done(1500, 0, Some(1000), None).unwrap().fraction, 0.99);
        assert_eq!(done(1, 0, None, None), None);
        assert_eq!(
            done(1, 0, Some(0), Some(0)),
            None,
            "an empty estimate says nothing"
        );
    }

    #[test]
    fn time_left_follows_the_pace_once_there_is_one() {
        assert_eq!(seconds_left(10.0, 0.25), Some(30.0));
        assert_eq!(seconds_left(10.0, 0.001), None);
        assert_eq!(seconds_left(0.0, 0.5), None);
        assert_eq!(seconds_left(10.0, 1.0), Some(0.0));
    }
}
