//! Small translations between protobuf and domain types.

use chrono::{DateTime, Utc};

/// A protobuf timestamp from a domain time.
pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

/// A domain time from a protobuf timestamp; `None` when it is out of range.
pub fn time(ts: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_and_nonsense_is_refused() {
        let at = DateTime::parse_from_rfc3339("2026-11-22T10:15:30.123456789Z")
            .unwrap()
            .to_utc();
        assert_eq!(time(&timestamp(at)), Some(at));
        assert_eq!(time(&prost_types::Timestamp { seconds: 0, nanos: -5 }), None);
    }
}
