//! Warnings that come again and again — a broker that is down fails every request, every
//! reconnect, every produce — are logged once per cause per interval, with how many times
//! the cause came up since the last line, not once per message.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;

/// How often one cause is logged at most.
pub(crate) const INTERVAL: Duration = Duration::from_secs(10);

/// Causes seen, and when each was last logged.
#[derive(Debug)]
pub(crate) struct Warnings {
    interval: Duration,
    causes: Mutex<HashMap<String, Cause>>,
}

#[derive(Debug)]
struct Cause {
    logged_at: Instant,
    /// Occurrences since the last line.
    unlogged: u64,
}

impl Default for Warnings {
    fn default() -> Self {
        Self::every(INTERVAL)
    }
}

impl Warnings {
    pub(crate) fn every(interval: Duration) -> Self {
        Self {
            interval,
            causes: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `cause` is to be logged now: `Some(n)` with the number of its occurrences
    /// since its last line, this one included; `None` to stay quiet.
    pub(crate) fn admit(&self, cause: &str) -> Option<u64> {
        let mut causes = self.causes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        match causes.get_mut(cause) {
            Some(seen) if now.duration_since(seen.logged_at) < self.interval => {
                seen.unlogged += 1;
                None
            }
            Some(seen) => {
                let count = seen.unlogged + 1;
                seen.logged_at = now;
                seen.unlogged = 0;
                Some(count)
            }
            None => {
                // A client that fails without end must not grow this without end either.
                if causes.len() > 1_000 {
                    causes.clear();
                }
                causes.insert(
                    cause.to_owned(),
                    Cause {
                        logged_at: now,
                        unlogged: 0,
                    },
                );
                Some(1)
            }
        }
    }
}

/// The cause of a librdkafka log line: the line with its numbers (ports, milliseconds,
/// counts) taken out, so the same trouble is one cause.
fn cause_of(facility: &str, line: &str) -> String {
    let mut cause = String::with_capacity(facility.len() + 1 + line.len().min(120));
    cause.push_str(facility);
    cause.push(' ');
    let mut in_number = false;
    for c in line.chars().take(120) {
        if c.is_ascii_digit() {
            if !in_number {
                cause.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            cause.push(c);
        }
    }
    cause
}

/// The context of the Kafka clients this crate makes: librdkafka's warnings and errors go
/// to the log once per cause per interval, with their count. Clones share their causes.
#[derive(Debug, Default, Clone)]
pub(crate) struct QuietLog {
    warnings: std::sync::Arc<Warnings>,
}

impl QuietLog {
    pub(crate) fn log(&self, level: RDKafkaLogLevel, facility: &str, line: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error
            | RDKafkaLogLevel::Warning => {
                if let Some(times) = self.warnings.admit(&cause_of(facility, line)) {
                    tracing::warn!(target: "librdkafka", times, "{facility} {line}");
                }
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", "{facility} {line}");
            }
            RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", "{facility} {line}"),
        }
    }

    pub(crate) fn error(&self, error: &KafkaError, reason: &str) {
        let cause = match error.rdkafka_error_code() {
            Some(code) => format!("{code:?}"),
            None => cause_of("error", &error.to_string()),
        };
        if let Some(times) = self.warnings.admit(&cause) {
            tracing::warn!(target: "librdkafka", times, %error, "{reason}");
        }
    }
}

impl ClientContext for QuietLog {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, line: &str) {
        QuietLog::log(self, level, facility, line);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        QuietLog::error(self, &error, reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_is_logged_once_per_interval_with_its_count() {
        let warnings = Warnings::every(Duration::from_millis(50));
        assert_eq!(warnings.admit("UnknownProducerId"), Some(1));
        for _ in 0..3_400 {
            assert_eq!(warnings.admit("UnknownProducerId"), None);
        }
        assert_eq!(
            warnings.admit("AllBrokersDown"),
            Some(1),
            "another cause has a line of its own"
        );
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(warnings.admit("UnknownProducerId"), Some(3_401));
        assert_eq!(warnings.admit("UnknownProducerId"), None);
    }

    #[test]
    fn numbers_do_not_make_another_cause() {
        assert_eq!(
            cause_of(
                "FAIL",
                "127.0.0.1:41031/111: Connect failed: Connection refused (after 0ms in state CONNECT)"
            ),
            cause_of(
                "FAIL",
                "127.0.0.1:41032/112: Connect failed: Connection refused (after 12ms in state CONNECT)"
            )
        );
        assert_ne!(cause_of("FAIL", "refused"), cause_of("REQTMOUT", "refused"));
    }
}
