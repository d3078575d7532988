//! Dead letters: a message that can never be applied is published, as it was received,
//! to `<topic>.dlq`, with the reason and where it came from in its headers.

use chrono::{DateTime, Utc};
use oms_eventsourcing::OutboxMessage;
use uuid::Uuid;

use crate::Message;
use crate::message::headers;

/// The dead-letter topic of `topic`.
pub fn topic_of(topic: &str) -> String {
    format!("{topic}.dlq")
}

/// The dead letter for `message`, written to the consumer's outbox in the transaction
/// that records the message as handled.
pub fn dead_letter(message: &Message, consumer: &str, reason: &str, at: DateTime<Utc>) -> OutboxMessage {
    let mut headers: Vec<(String, String)> = message
        .headers
        .iter()
        .filter(|(k, _)| !k.starts_with("dlq_") && k != headers::OUTBOX_POSITION)
        .cloned()
        .collect();
    headers.extend([
        (headers::DLQ_REASON.to_owned(), reason.to_owned()),
        (headers::DLQ_CONSUMER.to_owned(), consumer.to_owned()),
        (headers::DLQ_TOPIC.to_owned(), message.topic.clone()),
        (headers::DLQ_PARTITION.to_owned(), message.partition.to_string()),
        (headers::DLQ_OFFSET.to_owned(), message.offset.to_string()),
        (headers::DLQ_AT.to_owned(), at.to_rfc3339()),
    ]);
    OutboxMessage {
        message_id: Uuid::now_v7(),
        topic: topic_of(&message.topic),
        key: message.key.clone().unwrap_or_default(),
        message_type: message.message_type.clone().unwrap_or_else(|| "unknown".to_owned()),
        payload: message.payload.clone(),
        headers,
        created_at: at,
    }
}
