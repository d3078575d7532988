//! A broker record as a [`Message`]: its CloudEvents headers read into fields, its inbox
//! source named after its partition (and the epoch it is read under).

use chrono::DateTime;
use oms_eventsourcing::store::RecordFingerprint;
use rdkafka::message::{BorrowedMessage, Headers, Message as _};

use crate::Message;
use crate::message::{headers, kafka_inbox_source};

/// The message of record `m`, read under inbox `epoch` in the partition's `reading`.
pub(super) fn to_message(m: &BorrowedMessage<'_>, epoch: u32, reading: u64, fingerprint: RecordFingerprint) -> Message {
    let mut message_headers = Vec::new();
    if let Some(hs) = m.headers() {
        for header in hs.iter() {
            let value = header
                .value
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default();
            message_headers.push((header.key.to_owned(), value));
        }
    }
    let find = |name: &str| message_headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let publisher = find(headers::SOURCE);
    let outbox_position = find(headers::OUTBOX_POSITION).and_then(|p| p.parse().ok());
    Message {
        inbox_source: kafka_inbox_source(
            m.topic(),
            m.partition(),
            publisher.as_deref(),
            outbox_position.is_some(),
            epoch,
        ),
        topic: m.topic().to_owned(),
        partition: m.partition(),
        offset: m.offset(),
        key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
        id: find(headers::ID),
        message_type: find(headers::TYPE),
        published_at: find(headers::TIME)
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.to_utc()),
        publisher,
        headers: message_headers,
        payload: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        outbox_position,
        fingerprint: Some(fingerprint),
        reading,
    }
}
