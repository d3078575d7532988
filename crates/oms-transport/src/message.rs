//! A message as a consumer sees it, whichever transport brought it, and the headers it
//! carries (the CloudEvents Kafka binding, plus trace context and the publisher's
//! outbox position).

use chrono::{DateTime, Utc};
use oms_eventsourcing::store::{OutboxPosition, OutboxRecord, RecordFingerprint};
use serde::{Deserialize, Serialize};

/// Header names.
pub mod headers {
    pub const ID: &str = "ce_id";
    pub const TYPE: &str = "ce_type";
    pub const SOURCE: &str = "ce_source";
    pub const TIME: &str = "ce_time";
    pub const SPEC_VERSION: &str = "ce_specversion";
    pub const CONTENT_TYPE: &str = "content-type";
    pub const TRACEPARENT: &str = "traceparent";
    /// The publisher's outbox position (`tx:id`): increasing per publisher in the order it
    /// publishes, so a consumer knows a republished message when it sees one again.
    pub const OUTBOX_POSITION: &str = "oms_outbox_position";
    pub const DLQ_REASON: &str = "dlq_reason";
    pub const DLQ_CONSUMER: &str = "dlq_consumer";
    pub const DLQ_TOPIC: &str = "dlq_source_topic";
    pub const DLQ_PARTITION: &str = "dlq_source_partition";
    pub const DLQ_OFFSET: &str = "dlq_source_offset";
    pub const DLQ_AT: &str = "dlq_at";

    /// The content type of every integration message.
    pub const PROTOBUF: &str = "application/protobuf";
}

/// A consumed message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub topic: String,
    pub partition: i32,
    /// The Kafka offset, or the outbox row id for the in-process transport.
    pub offset: i64,
    pub key: Option<String>,
    /// `ce_id`, when the publisher set one.
    pub id: Option<String>,
    /// `ce_type`.
    pub message_type: Option<String>,
    /// `ce_source`: who published it.
    pub publisher: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub headers: Vec<(String, String)>,
    pub payload: Vec<u8>,
    /// Where the publisher's outbox had it, for messages from OMS services.
    pub outbox_position: Option<OutboxPosition>,
    /// What the inbox keys this message's position by (see [`Message::inbox_source`]).
    pub inbox_source: String,
    /// What the broker record looked like (Kafka only), kept with an offset checkpoint so
    /// the consumer can tell later whether the partition still holds the log it applied.
    /// Not kept when the message is parked: only its first handling records a checkpoint.
    #[serde(skip)]
    pub fingerprint: Option<RecordFingerprint>,
    /// Which reading of its partition brought it (the Kafka source reads a partition again
    /// from another offset when it finds another log there); not kept when parked.
    #[serde(skip)]
    pub reading: u64,
}

impl Message {
    /// A message read straight from a publisher's outbox.
    pub fn from_outbox(publisher: &str, record: OutboxRecord) -> Self {
        let OutboxRecord { position, message } = record;
        Self {
            inbox_source: format!("outbox:{publisher}"),
            topic: message.topic,
            partition: 0,
            offset: position.id,
            key: Some(message.key),
            id: Some(message.message_id.to_string()),
            message_type: Some(message.message_type),
            publisher: Some(publisher.to_owned()),
            published_at: Some(message.created_at),
            headers: message.headers,
            payload: message.payload,
            outbox_position: Some(position),
            fingerprint: None,
            reading: 0,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The position the inbox checkpoint records for this message: the publisher's outbox
    /// position when there is one (so a republished copy is recognised), else the offset.
    pub fn inbox_position(&self) -> OutboxPosition {
        self.outbox_position
            .unwrap_or(OutboxPosition { tx: 0, id: self.offset })
    }

    /// Encoded for the parked-messages table.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        postcard::from_bytes(bytes).ok()
    }

    /// Where it came from, for logs and dead letters.
    pub fn origin(&self) -> String {
        format!("{}[{}]@{}", self.topic, self.partition, self.offset)
    }
}

/// The inbox source of a Kafka message: per topic partition, and per publisher when the
/// message carries an outbox position (each publisher's positions increase on their own).
/// A message without one is checkpointed by its offset, under the partition's epoch: the
/// first log the consumer read on the partition is `topic/partition`, and each log found
/// there after it (the broker lost the topic, or it was recreated) `topic/partition~2`,
/// `~3`, ... (see [`parse_offset_source`]).
pub(crate) fn kafka_inbox_source(
    topic: &str,
    partition: i32,
    publisher: Option<&str>,
    positioned: bool,
    epoch: u32,
) -> String {
    match (positioned, publisher) {
        (true, Some(publisher)) => format!("{topic}/{partition}/{publisher}"),
        _ if epoch > 1 => format!("{topic}/{partition}~{epoch}"),
        _ => format!("{topic}/{partition}"),
    }
}

/// The topic, partition and epoch of an inbox source that checkpoints a partition by
/// offset (`topic/partition` or `topic/partition~epoch`); `None` for any other source.
pub(crate) fn parse_offset_source(source: &str) -> Option<(&str, i32, u32)> {
    let (topic, rest) = source.split_once('/')?;
    let (partition, epoch) = match rest.split_once('~') {
        Some((partition, epoch)) => (partition, epoch.parse().ok().filter(|epoch| *epoch > 1)?),
        None => (rest, 1),
    };
    // A source with a publisher (`topic/partition/publisher`) is checkpointed by position.
    let partition = partition.parse().ok().filter(|p| *p >= 0)?;
    Some((topic, partition, epoch))
}

/// The fingerprint of a broker record: xxh3 of its key and payload (the key's length
/// first, so key and payload cannot trade bytes), and its timestamp.
pub(crate) fn fingerprint(key: Option<&[u8]>, payload: &[u8], timestamp_ms: Option<i64>) -> RecordFingerprint {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    match key {
        Some(key) => {
            hasher.update(&(key.len() as u64).to_le_bytes());
            hasher.update(key);
        }
        None => hasher.update(&u64::MAX.to_le_bytes()),
    }
    hasher.update(payload);
    RecordFingerprint {
        digest: hasher.digest() as i64,
        timestamp_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_survives_parking() {
        let message = Message {
            topic: "oms.orders.v1".into(),
            partition: 3,
            offset: 42,
            key: Some("order-1".into()),
            id: Some("abc".into()),
            message_type: Some("oms.orders.v1.OrderPlaced".into()),
            publisher: Some("oms/order-capture".into()),
            published_at: Some(Utc::now()),
            headers: vec![("traceparent".into(), "00-…".into())],
            payload: vec![1, 2, 3],
            outbox_position: Some(OutboxPosition { tx: 9, id: 10 }),
            inbox_source: "oms.orders.v1/3/oms/order-capture".into(),
            fingerprint: None,
            reading: 0,
        };
        assert_eq!(Message::decode(&message.encode()), Some(message.clone()));
        assert_eq!(message.inbox_position(), OutboxPosition { tx: 9, id: 10 });
        assert_eq!(
            Message {
                outbox_position: None,
                ..message
            }
            .inbox_position(),
            OutboxPosition { tx: 0, id: 42 }
        );
    }

    #[test]
    fn an_offset_source_names_its_partition_and_epoch() {
        let topic = "oms.pos-movements.v1";
        assert_eq!(kafka_inbox_source(topic, 2, None, false, 1), "oms.pos-movements.v1/2");
        assert_eq!(kafka_inbox_source(topic, 2, None, false, 3), "oms.pos-movements.v1/2~3");
        assert_eq!(
            kafka_inbox_source(topic, 2, Some("oms/ledger"), true, 3),
            "oms.pos-movements.v1/2/oms/ledger"
        );
        for (source, parsed) in [
            ("oms.pos-movements.v1/2", Some((topic, 2, 1))),
            ("oms.pos-movements.v1/2~3", Some((topic, 2, 3))),
            ("oms.pos-movements.v1/21", Some((topic, 21, 1))),
            ("oms.pos-movements.v1/2~1", None),
            ("oms.pos-movements.v1/2~x", None),
            ("oms.pos-movements.v1/2/oms/ledger", None),
            ("outbox:oms/ledger", None),
        ] {
            assert_eq!(parse_offset_source(source), parsed, "{source}");
        }
    }

    #[test]
    fn a_fingerprint_tells_records_apart_by_key_payload_and_time() {
        let sale = fingerprint(Some(b"store-1"), b"sale", Some(1_000));
        assert_eq!(sale, fingerprint(Some(b"store-1"), b"sale", Some(1_000)));
        assert_ne!(sale, fingerprint(Some(b"store-2"), b"sale", Some(1_000)));
        assert_ne!(sale, fingerprint(Some(b"store-1"), b"sale", Some(1_001)));
        assert_ne!(sale.digest, fingerprint(Some(b"store-1s"), b"ale", Some(1_000)).digest);
        assert_ne!(sale.digest, fingerprint(None, b"store-1sale", Some(1_000)).digest);
    }
}
