//! The application service: runs the ledger's decisions through its writer, answers
//! reads from its state, and keeps the timers (reservation expiry).

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::trace::current_traceparent;
use oms_eventsourcing::writer::Context;
use oms_eventsourcing::{
    Changes, CommandError, CommandMeta, Decide, Decision, EventStore, StoreError, Writer, WriterConfig,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{broadcast, watch};

use crate::domain::position::Figures;
use crate::domain::{
    ChannelRule, ConsumeReservation, ExpireDue, Ledger, LedgerError, LedgerEvent, LedgerPolicy, Line, LocationId,
    LocationRecord, Movement, NodeType, Position, RecordMovement, RegisterSkus, ReleaseReservation, Reservation,
    ReservationId, Reserve, ReserveStock, SetChannelRule, SetSafetyStock, Sku, UpsertLocation,
};
use crate::messages;

/// The ledger service's state and writer.
#[derive(Clone)]
pub struct Inventory {
    writer: Writer<Ledger>,
    policy: Arc<LedgerPolicy>,
    changes: broadcast::Sender<PositionUpdate>,
}

/// A position as it is now, and what changed it: the live feed of the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct PositionUpdate {
    pub sku: Sku,
    pub location: LocationId,
    pub position: Position,
    pub cause: &'static str,
}

/// One SKU's availability at one location.
#[derive(Debug, Clone, PartialEq)]
pub struct LocationStock {
    pub location: LocationId,
    pub kind: Option<NodeType>,
    pub figures: Figures,
    /// After the channel's rule.
    pub channel_available: i64,
}

/// What `record_movements` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    pub applied: usize,
    pub duplicates: usize,
}

pub type Outcome<T> = Result<T, CommandError<LedgerError>>;

impl Inventory {
    /// Rebuilds the ledger from `store` and starts its writer.
    pub async fn start(
        store: EventStore,
        clock: SharedClock,
        policy: LedgerPolicy,
        config: WriterConfig,
    ) -> Result<Self, StoreError> {
        let (writer, report) = Writer::<Ledger>::start(store, clock, config).await?;
        tracing::info!(
            events = report.events_applied,
            positions = writer.read(Ledger::positions_count),
            "ledger ready"
        );
        let (changes, _) = broadcast::channel(4096);
        let inventory = Self {
            writer,
            policy: Arc::new(policy),
            changes,
        };
        inventory.follow_changes();
        Ok(inventory)
    }

    pub fn writer(&self) -> &Writer<Ledger> {
        &self.writer
    }

    pub fn policy(&self) -> &LedgerPolicy {
        &self.policy
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.writer.clock().now()
    }

    // ----------------------------------------------------------------------------------
    // Commands.

    /// Applies stock movements, each on its own: a bad one is refused without holding back
    /// the others. A movement applied before counts as a duplicate.
    pub async fn record_movements(
        &self,
        movements: Vec<Movement>,
    ) -> Result<Recorded, Vec<(usize, CommandError<LedgerError>)>> {
        let unknown_skus = self.policy.unknown_skus;
        let commands = movements
            .into_iter()
            .map(|movement| {
                let command = RecordMovement { movement, unknown_skus };
                (self.meta(), move |ledger: &Ledger, ctx: &Context<'_>| {
                    let changes = command.decide(ledger, ctx.now)?;
                    let applied = !changes.is_empty();
                    Ok(decision(ledger, changes, applied, ctx.now))
                })
            })
            .collect();
        let mut recorded = Recorded::default();
        let mut refused = Vec::new();
        for (i, result) in self.writer.execute_all(commands).await.into_iter().enumerate() {
            match result {
                Ok(true) => recorded.applied += 1,
                Ok(false) => recorded.duplicates += 1,
                Err(e) => refused.push((i, e)),
            }
        }
        if refused.is_empty() { Ok(recorded) } else { Err(refused) }
    }

    /// Holds the units asked for; the same request again is answered with the reservation
    /// placed first.
    pub async fn reserve(&self, request: ReserveStock) -> Outcome<Reservation> {
        let id = request.reservation_id.clone();
        let command = Reserve {
            request,
            unknown_skus: self.policy.unknown_skus,
            default_ttl: self.policy.default_ttl,
        };
        self.run(command, |_| ()).await?;
        self.reservation_now(id)
    }

    pub async fn release(&self, command: ReleaseReservation) -> Outcome<Reservation> {
        let id = command.reservation_id.clone();
        self.run(command, |_| ()).await?;
        self.reservation_now(id)
    }

    pub async fn consume(&self, command: ConsumeReservation) -> Outcome<Reservation> {
        let id = command.reservation_id.clone();
        self.run(command, |_| ()).await?;
        self.reservation_now(id)
    }

    /// Lapses every reservation due now. Returns how many.
    pub async fn expire_due(&self) -> Outcome<usize> {
        let now = self.now();
        if self.writer.read(|l| l.due_reservations(now, 1).is_empty()) {
            return Ok(0);
        }
        self.run(ExpireDue { limit: 1_000 }, |changes| {
            changes
                .iter()
                .filter(|c| matches!(c.event, LedgerEvent::ReservationExpired { .. }))
                .count()
        })
        .await
    }

    pub async fn set_safety_stock(&self, sku: Sku, location: LocationId, quantity: i64) -> Outcome<Position> {
        let command = SetSafetyStock {
            sku: sku.clone(),
            location: location.clone(),
            quantity,
            unknown_skus: self.policy.unknown_skus,
        };
        self.run(command, |_| ()).await?;
        Ok(self.writer.read(|ledger| {
            ledger
                .position(sku.as_str(), location.as_str())
                .cloned()
                .unwrap_or_default()
        }))
    }

    pub async fn upsert_location(&self, location: LocationRecord) -> Outcome<LocationRecord> {
        let command = UpsertLocation {
            location: location.clone(),
        };
        self.run(command, |_| ()).await?;
        Ok(location)
    }

    pub async fn set_channel_rule(&self, rule: ChannelRule) -> Outcome<ChannelRule> {
        let command = SetChannelRule { rule: rule.clone() };
        self.run(command, |_| ()).await?;
        Ok(rule)
    }

    /// Registers SKUs; answers how many were new.
    pub async fn register_skus(&self, skus: Vec<Sku>) -> Outcome<usize> {
        self.run(RegisterSkus { skus }, Vec::len).await
    }

    /// Decides `command` in the writer, records what it decides with the messages
    /// announcing it, and answers what `reply` makes of its changes.
    async fn run<C, R>(&self, command: C, reply: fn(&Changes<LedgerEvent>) -> R) -> Outcome<R>
    where
        C: Decide<Ledger> + Send + 'static,
        LedgerError: From<C::Refusal>,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.writer
            .execute(self.meta(), move |ledger: &Ledger, ctx: &Context<'_>| {
                let changes = command.decide(ledger, ctx.now).map_err(LedgerError::from)?;
                let answer = reply(&changes);
                Ok(decision(ledger, changes, answer, ctx.now))
            })
            .await
    }

    fn meta(&self) -> CommandMeta {
        CommandMeta::new().with_traceparent(current_traceparent())
    }

    // ----------------------------------------------------------------------------------
    // Reads.

    pub fn reservation(&self, id: &str) -> Option<Reservation> {
        self.writer.read(|l| l.reservation(id).cloned())
    }

    fn reservation_now(&self, id: ReservationId) -> Outcome<Reservation> {
        match self.reservation(id.as_str()) {
            Some(reservation) => Ok(reservation),
            None => Err(CommandError::Rejected(LedgerError::UnknownReservation(id))),
        }
    }

    /// Each SKU's stock at `locations` (all locations when empty), as `channel` sees it.
    pub fn availability(
        &self,
        skus: &[String],
        locations: &[String],
        channel: &str,
    ) -> Vec<(String, Vec<LocationStock>)> {
        self.writer.read(|ledger| {
            skus.iter()
                .map(|sku| {
                    let stock = ledger
                        .positions_of(sku)
                        .filter(|(location, _)| {
                            locations.is_empty() || locations.iter().any(|l| location.as_str() == l.as_str())
                        })
                        .filter_map(|(location, position)| {
                            let record = ledger.location(location.as_str());
                            if record.is_some_and(|l| !l.active) {
                                return None;
                            }
                            Some(LocationStock {
                                location: location.clone(),
                                kind: record.map(|l| l.kind),
                                channel_available: ledger.channel_available(position, channel),
                                figures: position.figures(),
                            })
                        })
                        .collect();
                    (sku.clone(), stock)
                })
                .collect()
        })
    }

    /// Positions at `location` in SKU order, after SKU `after`, at most `limit`.
    pub fn positions_at(&self, location: &str, after: &str, limit: usize) -> Vec<(Sku, Position)> {
        self.writer.read(|ledger| {
            ledger
                .positions_at(location, after, limit)
                .into_iter()
                .map(|(sku, p)| (sku.clone(), p.clone()))
                .collect()
        })
    }

    pub fn position(&self, sku: &str, location: &str) -> Option<Position> {
        self.writer.read(|l| l.position(sku, location).cloned())
    }

    /// The position as it stood at `at` on the shop floor ([`Position::as_of`]), from its
    /// whole stream: a movement recorded after `at` may have occurred before it.
    pub async fn position_as_of(&self, sku: &str, location: &str, at: DateTime<Utc>) -> Result<Position, StoreError> {
        let stream = crate::domain::position_stream(location, sku);
        let events = self
            .writer
            .store()
            .read_stream(&stream, 1)
            .await?
            .into_iter()
            .map(oms_eventsourcing::store::RawEvent::decode::<LedgerEvent>)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Position::as_of(
            events
                .iter()
                .map(|recorded| (&recorded.event, recorded.meta.recorded_at)),
            at,
        ))
    }

    pub fn locations(&self) -> Vec<LocationRecord> {
        self.writer.read(|l| l.locations().cloned().collect())
    }

    pub fn location(&self, id: &str) -> Option<LocationRecord> {
        self.writer.read(|l| l.location(id).cloned())
    }

    pub fn channel_rules(&self) -> Vec<ChannelRule> {
        self.writer.read(|l| l.channel_rules().cloned().collect())
    }

    /// Every change of a position from now on.
    pub fn watch(&self) -> broadcast::Receiver<PositionUpdate> {
        self.changes.subscribe()
    }

    // ----------------------------------------------------------------------------------
    // Background work.

    /// Lapses due reservations as time passes, until `stop` turns true. Looks every
    /// `every` at the (injectable) clock.
    pub async fn run_expiry(self, every: StdDuration, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => return,
            }
            match self.expire_due().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "reservations lapsed"),
                Err(e) => tracing::warn!(error = %e, "reservations not expired yet"),
            }
        }
    }

    /// Turns committed position events into the live feed.
    fn follow_changes(&self) {
        let mut committed = self.writer.subscribe();
        let writer = self.writer.clone();
        let changes = self.changes.clone();
        tokio::spawn(async move {
            loop {
                let batch = match committed.recv().await {
                    Ok(batch) => batch,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "the availability feed fell behind; some changes were not sent");
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if changes.receiver_count() == 0 {
                    continue;
                }
                let updates: Vec<PositionUpdate> = writer.read(|ledger| {
                    batch
                        .events
                        .iter()
                        .filter_map(|committed| {
                            let event = &committed.event;
                            let (sku, location) = event.position()?;
                            Some(PositionUpdate {
                                sku: sku.clone(),
                                location: location.clone(),
                                position: ledger
                                    .position(sku.as_str(), location.as_str())
                                    .cloned()
                                    .unwrap_or_default(),
                                cause: event.cause(),
                            })
                        })
                        .collect()
                });
                for update in updates {
                    let _ = changes.send(update);
                }
            }
        });
    }
}

/// A decision recording `changes` and publishing what they change.
pub(crate) fn decision<R>(
    ledger: &Ledger,
    changes: Changes<LedgerEvent>,
    reply: R,
    now: DateTime<Utc>,
) -> Decision<LedgerEvent, R> {
    let messages = messages::for_changes(ledger, &changes, now);
    Decision::reply(reply).publish_all(messages).changes(changes)
}

/// Lines from protobuf-like pairs.
pub fn lines(pairs: impl IntoIterator<Item = (String, i64)>) -> Vec<Line> {
    pairs
        .into_iter()
        .map(|(sku, quantity)| Line::new(sku, quantity))
        .collect()
}
