//! A small model to drive the log: shelves of units that can be received and picked, and
//! the helpers the scenarios share to write to it.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::store::NewEvent;
use oms_eventsourcing::writer::Context;
use oms_eventsourcing::{
    CommandError, CommandMeta, CommitBatch, Decision, DomainEvent, EventHeader, EventMeta, EventStore, ManualClock,
    Model, OutboxMessage, Writer, WriterConfig, event_type_names,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum ShelfEvent {
    Received { shelf: String, units: u64 },
    Picked { shelf: String, units: u64 },
}

impl DomainEvent for ShelfEvent {
    event_type_names!(ShelfEvent { Received, Picked });
}

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Shelves {
    pub(crate) units: HashMap<String, u64>,
    pub(crate) picks: u64,
    pub(crate) last_recorded: Option<DateTime<Utc>>,
}

impl Model for Shelves {
    type Event = ShelfEvent;
    const NAME: &'static str = "shelves";
    const SNAPSHOT_VERSION: u32 = 1;

    fn apply(&mut self, header: &EventHeader<'_>, event: &ShelfEvent) {
        match event {
            ShelfEvent::Received { shelf, units } => *self.units.entry(shelf.clone()).or_default() += units,
            ShelfEvent::Picked { shelf, units } => {
                *self.units.entry(shelf.clone()).or_default() -= units;
                self.picks += 1;
            }
        }
        self.last_recorded = Some(header.recorded_at);
    }
}

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("shelf {shelf} holds only {available} units")]
pub(crate) struct NotEnough {
    pub(crate) shelf: String,
    pub(crate) available: u64,
}

pub(crate) fn stream(shelf: &str) -> String {
    format!("shelf-{shelf}")
}

pub(crate) fn announcement(shelf: &str, what: &str, at: DateTime<Utc>) -> OutboxMessage {
    OutboxMessage {
        message_id: Uuid::now_v7(),
        topic: "test.shelves".into(),
        key: shelf.into(),
        message_type: what.into(),
        payload: what.as_bytes().to_vec(),
        headers: vec![(
            "traceparent".into(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
        )],
        created_at: at,
    }
}

pub(crate) async fn receive(
    writer: &Writer<Shelves>,
    meta: CommandMeta,
    shelf: &str,
    units: u64,
) -> Result<u64, CommandError<NotEnough>> {
    let shelf = shelf.to_owned();
    writer
        .execute(meta, move |state: &Shelves, ctx: &Context<'_>| {
            let after = state.units.get(&shelf).copied().unwrap_or(0) + units;
            Ok(Decision::reply(after)
                .event(
                    stream(&shelf),
                    ShelfEvent::Received {
                        shelf: shelf.clone(),
                        units,
                    },
                )
                .publish(announcement(&shelf, "Received", ctx.now)))
        })
        .await
}

pub(crate) async fn pick(
    writer: &Writer<Shelves>,
    meta: CommandMeta,
    shelf: &str,
    units: u64,
) -> Result<u64, CommandError<NotEnough>> {
    let shelf = shelf.to_owned();
    writer
        .execute(meta, move |state: &Shelves, ctx: &Context<'_>| {
            let available = state.units.get(&shelf).copied().unwrap_or(0);
            if units > available {
                return Err(NotEnough { shelf, available });
            }
            Ok(Decision::reply(available - units)
                .event(
                    stream(&shelf),
                    ShelfEvent::Picked {
                        shelf: shelf.clone(),
                        units,
                    },
                )
                .publish(announcement(&shelf, "Picked", ctx.now)))
        })
        .await
}

pub(crate) fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T08:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub(crate) async fn start_writer(store: &EventStore, clock: &ManualClock, config: WriterConfig) -> Writer<Shelves> {
    let clock: SharedClock = Arc::new(clock.clone());
    Writer::<Shelves>::start(store.clone(), clock, config)
        .await
        .expect("writer starts")
        .0
}

pub(crate) fn event_at(stream_id: &str, version: u64, event: &ShelfEvent) -> NewEvent {
    NewEvent::from_event(
        EventMeta {
            event_id: Uuid::now_v7(),
            stream_id: stream_id.into(),
            version,
            recorded_at: start_time(),
            correlation_id: None,
            causation_id: None,
            traceparent: None,
        },
        event,
    )
    .expect("a shelf event encodes")
}

pub(crate) fn batch_of(events: Vec<NewEvent>) -> CommitBatch {
    CommitBatch {
        events,
        recorded_at: start_time(),
        ..CommitBatch::default()
    }
}
