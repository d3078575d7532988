//! The transactional outbox: integration messages written with the events that caused
//! them, read back in [`OutboxPosition`] order by a relay or an in-process consumer.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Position in an outbox, in the order the relay (or an in-process consumer) reads it.
/// Ordered by the writing transaction first, then by row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OutboxPosition {
    pub tx: i64,
    pub id: i64,
}

impl std::fmt::Display for OutboxPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.tx, self.id)
    }
}

impl std::str::FromStr for OutboxPosition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (tx, id) = s
            .split_once(':')
            .ok_or_else(|| format!("outbox position {s:?} is not tx:id"))?;
        Ok(Self {
            tx: tx.parse().map_err(|_| format!("outbox position {s:?} has a bad tx"))?,
            id: id.parse().map_err(|_| format!("outbox position {s:?} has a bad id"))?,
        })
    }
}

/// An integration message to publish once the transaction that writes it commits.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    pub message_id: Uuid,
    pub topic: String,
    /// The aggregate id: messages with one key stay in order.
    pub key: String,
    /// The message's type name (the CloudEvents `ce_type`).
    pub message_type: String,
    pub payload: Vec<u8>,
    /// Extra headers (trace context, dead-letter reasons...).
    pub headers: Vec<(String, String)>,
    pub created_at: DateTime<Utc>,
}

impl OutboxMessage {
    /// A message on `topic` keyed by `key`, with a fresh id and no extra headers.
    pub fn new(
        topic: &str,
        key: impl Into<String>,
        message_type: impl Into<String>,
        payload: Vec<u8>,
        created_at: DateTime<Utc>,
    ) -> Self {
        Self {
            message_id: Uuid::now_v7(),
            topic: topic.to_owned(),
            key: key.into(),
            message_type: message_type.into(),
            payload,
            headers: Vec::new(),
            created_at,
        }
    }

    /// The same, with `header` set to `value`.
    pub fn with_header(mut self, header: &str, value: impl Into<String>) -> Self {
        self.headers.push((header.to_owned(), value.into()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// An outbox row as read back, with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRecord {
    pub position: OutboxPosition,
    pub message: OutboxMessage,
}

/// Headers are stored as a JSON object; an empty list as NULL.
pub(crate) fn encode_headers(headers: &[(String, String)]) -> Option<String> {
    if headers.is_empty() {
        return None;
    }
    let map: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    Some(serde_json::Value::Object(map).to_string())
}

pub(crate) fn decode_headers(text: Option<&str>) -> Vec<(String, String)> {
    let Some(text) = text else { return Vec::new() };
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text) {
        Ok(map) => map
            .into_iter()
            .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
            .collect(),
        Err(_) => Vec::new(),
    }
}
