//! How a domain event is named, versioned, encoded for the log and read back.
//!
//! Events are stored as JSON of the whole (externally tagged) event enum, next to the
//! event's type name and the schema version of that type. Reading an event written under
//! an older schema version first passes it through [`DomainEvent::upcast`], so the rest of
//! the service only ever sees the current shape.

use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// An event of a service's own log.
pub trait DomainEvent: Serialize + DeserializeOwned + Clone + Debug + Send + Sync + 'static {
    /// The stable name of this event's type (the variant name), stored with the event.
    fn event_type(&self) -> &'static str;

    /// Every event type's name, for the checks that cover them all (golden files).
    fn event_types() -> &'static [&'static str]
    where
        Self: Sized,
    {
        &[]
    }

    /// The current schema version of an event type. Bump it when the shape of that event
    /// changes and teach [`DomainEvent::upcast`] to lift the older shape.
    fn schema_version(event_type: &str) -> u16 {
        let _ = event_type;
        1
    }

    /// Lifts the JSON of an event written under schema version `from` to version
    /// `from + 1`. Called repeatedly until the current version is reached.
    fn upcast(event_type: &str, from: u16, json: serde_json::Value) -> Result<serde_json::Value, String> {
        let _ = json;
        Err(format!(
            "no upcaster from schema version {from} of event type {event_type}"
        ))
    }

    /// The bytes stored in the log.
    fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        serde_json::to_vec(self).map_err(|e| EncodeError {
            event_type: self.event_type(),
            reason: e.to_string(),
        })
    }

    /// Reads an event back from the log, upcasting older schema versions.
    fn decode(event_type: &str, schema_version: u16, payload: &[u8]) -> Result<Self, DecodeError> {
        let current = Self::schema_version(event_type);
        if schema_version == current {
            return serde_json::from_slice(payload).map_err(|e| DecodeError::Payload(e.to_string()));
        }
        if schema_version > current {
            return Err(DecodeError::NewerSchema {
                event_type: event_type.to_owned(),
                found: schema_version,
                known: current,
            });
        }
        let mut json: serde_json::Value =
            serde_json::from_slice(payload).map_err(|e| DecodeError::Payload(e.to_string()))?;
        for from in schema_version..current {
            json = Self::upcast(event_type, from, json).map_err(DecodeError::Upcast)?;
        }
        serde_json::from_value(json).map_err(|e| DecodeError::Payload(e.to_string()))
    }
}

/// Why an event could not be written: nothing is stored for it, and the command that
/// decided it fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {event_type} cannot be encoded: {reason}")]
pub struct EncodeError {
    pub event_type: &'static str,
    pub reason: String,
}

/// Why a stored event could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("payload does not match the event schema: {0}")]
    Payload(String),
    #[error("event type {event_type} has schema version {found}, this build knows up to {known}")]
    NewerSchema { event_type: String, found: u16, known: u16 },
    #[error("upcasting failed: {0}")]
    Upcast(String),
}

/// Implements [`DomainEvent::event_type`] for an event enum from its variant names.
///
/// ```ignore
/// impl DomainEvent for OrderEvent {
///     event_type_names!(OrderEvent { Placed, Cancelled, Shipped });
/// }
/// ```
#[macro_export]
macro_rules! event_type_names {
    ($enum:ident { $($variant:ident),+ $(,)? }) => {
        fn event_type(&self) -> &'static str {
            match self {
                $( $enum::$variant { .. } => stringify!($variant), )+
            }
        }

        fn event_types() -> &'static [&'static str] {
            &[$( stringify!($variant), )+]
        }
    };
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    /// Version 1 of `Renamed` carried `name`; version 2 calls it `title`.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Note {
        Created { id: u32 },
        Renamed { id: u32, title: String },
    }

    impl DomainEvent for Note {
        event_type_names!(Note { Created, Renamed });

        fn schema_version(event_type: &str) -> u16 {
            if event_type == "Renamed" { 2 } else { 1 }
        }

        fn upcast(event_type: &str, from: u16, mut json: serde_json::Value) -> Result<serde_json::Value, String> {
            match (event_type, from) {
                ("Renamed", 1) => {
                    let body = json
                        .get_mut("Renamed")
                        .and_then(|b| b.as_object_mut())
                        .ok_or("Renamed v1 is not an object")?;
                    let name = body.remove("name").ok_or("Renamed v1 has no name")?;
                    body.insert("title".into(), name);
                    Ok(json)
                }
                _ => Err(format!("no upcaster for {event_type} v{from}")),
            }
        }
    }

    #[test]
    fn current_events_round_trip() {
        let event = Note::Renamed {
            id: 7,
            title: "groceries".into(),
        };
        let bytes = event.encode().unwrap();
        assert_eq!(Note::decode("Renamed", 2, &bytes).unwrap(), event);
    }

    #[test]
    fn an_old_schema_version_is_upcast_on_read() {
        let v1 = br#"{"Renamed":{"id":7,"name":"groceries"}}"#;
        assert_eq!(
            Note::decode("Renamed", 1, v1).unwrap(),
            Note::Renamed {
                id: 7,
                title: "groceries".into()
            }
        );
    }

    #[test]
    fn a_newer_schema_than_this_build_knows_is_an_error_not_a_guess() {
        let err = Note::decode("Created", 3, br#"{"Created":{"id":1}}"#).unwrap_err();
        assert!(matches!(err, DecodeError::NewerSchema { found: 3, known: 1, .. }));
    }

    #[test]
    fn garbage_is_a_decode_error() {
        assert!(matches!(
            Note::decode("Created", 1, b"\x00\x01not json"),
            Err(DecodeError::Payload(_))
        ));
    }
}
