//! The five gRPC APIs as a journey uses them, with waits for what happens asynchronously
//! (each with a deadline, and a message naming what never happened).

use std::future::Future;
use std::time::{Duration, Instant};

use oms_cli::embedded::Addrs;
use oms_proto::common::v1 as common;
use oms_proto::fulfilment::v1 as fulfilment;
use oms_proto::fulfilment::v1::store_fulfilment_client::StoreFulfilmentClient;
use oms_proto::inventory::v1 as inventory;
use oms_proto::inventory::v1::inventory_ledger_client::InventoryLedgerClient;
use oms_proto::orders::v1 as orders;
use oms_proto::orders::v1::order_capture_client::OrderCaptureClient;
use oms_proto::returns::v1::returns_client::ReturnsClient;
use oms_proto::routing::v1 as routing;
use oms_proto::routing::v1::routing_client::RoutingClient;
use oms_service::auth::AuthorisedChannel;

/// Where the journeys' customers live: next to the Alexanderplatz store of the sample
/// network, about 3 km from Kreuzberg and 240 km from the warehouse.
pub const CUSTOMER_AT: common::GeoPoint = common::GeoPoint {
    latitude: 52.5219,
    longitude: 13.4132,
};

/// Looks every 100 ms until `probe` answers, for a minute at most.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A web order of `lines` (SKU, units) at 10 EUR a unit, paid by card, for a customer at
/// Alexanderplatz; line ids are 1, 2, ...
pub fn draft(external_id: &str, lines: &[(&str, i64)], method: orders::DeliveryMethod) -> orders::OrderDraft {
    let eur = |amount_minor| common::Money {
        amount_minor,
        currency: "EUR".into(),
    };
    let total: i64 = lines.iter().map(|(_, units)| units * 1_000).sum();
    orders::OrderDraft {
        channel: orders::Channel::Web as i32,
        external_order_id: external_id.into(),
        customer: Some(orders::Customer {
            customer_id: format!("C-{external_id}"),
            name: "Ada".into(),
            ..Default::default()
        }),
        lines: lines
            .iter()
            .enumerate()
            .map(|(i, (sku, quantity))| orders::OrderLine {
                line_id: (i + 1).to_string(),
                sku: (*sku).into(),
                quantity: *quantity,
                unit_price: Some(eur(1_000)),
                description: String::new(),
            })
            .collect(),
        currency: "EUR".into(),
        delivery_method: method as i32,
        shipping_address: Some(common::Address {
            name: "Ada Lovelace".into(),
            lines: vec!["Alexanderplatz 1".into()],
            city: "Berlin".into(),
            postal_code: "10178".into(),
            country: "DE".into(),
            location: Some(CUSTOMER_AT),
            ..Default::default()
        }),
        payments: vec![orders::Payment {
            reference: format!("psp-{external_id}"),
            tender: orders::TenderType::Card as i32,
            authorised: Some(eur(total)),
        }],
        ..Default::default()
    }
}

/// As [`draft`], for a customer who collects at `pickup_at` (a store or a locker bank).
pub fn pickup_draft(
    external_id: &str,
    lines: &[(&str, i64)],
    method: orders::DeliveryMethod,
    pickup_at: &str,
) -> orders::OrderDraft {
    orders::OrderDraft {
        pickup_location_id: pickup_at.into(),
        shipping_address: None,
        ..draft(external_id, lines, method)
    }
}

#[derive(Clone)]
pub struct Clients {
    pub orders: OrderCaptureClient<AuthorisedChannel>,
    pub ledger: InventoryLedgerClient<AuthorisedChannel>,
    pub routing: RoutingClient<AuthorisedChannel>,
    pub staff: StoreFulfilmentClient<AuthorisedChannel>,
    pub returns: ReturnsClient<AuthorisedChannel>,
}

impl Clients {
    pub async fn connect(addrs: &Addrs) -> Self {
        let channel = |addr| async move { addrs.channel(addr).await.expect("a channel") };
        Self {
            orders: OrderCaptureClient::new(channel(addrs.orders).await),
            ledger: InventoryLedgerClient::new(channel(addrs.ledger).await),
            routing: RoutingClient::new(channel(addrs.routing).await),
            staff: StoreFulfilmentClient::new(channel(addrs.fulfilment).await),
            returns: ReturnsClient::new(channel(addrs.returns).await),
        }
    }

    /// The ledger's position of `sku` at `location`, if it has one (or answers).
    pub async fn position(&self, location: &str, sku: &str) -> Option<inventory::Position> {
        let positions = self
            .ledger
            .clone()
            .list_positions(inventory::ListPositionsRequest {
                location_id: location.into(),
                ..Default::default()
            })
            .await
            .ok()?
            .into_inner();
        positions.positions.into_iter().find(|p| p.sku == sku)
    }

    /// Waits until the ledger's position of `sku` at `location` passes `check`.
    pub async fn wait_for_position(
        &self,
        what: &str,
        location: &str,
        sku: &str,
        check: impl Fn(&inventory::Position) -> bool,
    ) -> inventory::Position {
        let check = &check;
        eventually(what, || async move {
            self.position(location, sku).await.filter(|p| check(p))
        })
        .await
    }

    /// Waits until routing, which learns stock from the ledger's events, offers `node` for
    /// a unit of `sku` delivered to Alexanderplatz.
    pub async fn wait_until_routing_sees(&self, sku: &str, node: &str) {
        eventually(&format!("routing sees {sku} at {node}"), || async move {
            let quote = self
                .routing
                .clone()
                .quote_delivery_options(routing::QuoteRequest {
                    lines: vec![routing::QuoteLine {
                        sku: sku.into(),
                        quantity: 1,
                    }],
                    destination: Some(common::Address {
                        country: "DE".into(),
                        location: Some(CUSTOMER_AT),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner();
            quote
                .options
                .iter()
                .any(|o| o.pickup_location_id == node || o.node_ids.iter().any(|n| n == node))
                .then_some(())
        })
        .await;
    }

    pub async fn place(&self, draft: orders::OrderDraft) -> String {
        self.orders
            .clone()
            .place_order(orders::PlaceOrderRequest { order: Some(draft) })
            .await
            .expect("the order is placed")
            .into_inner()
            .order_id
    }

    pub async fn order(&self, order_id: &str) -> orders::Order {
        self.orders
            .clone()
            .get_order(orders::GetOrderRequest {
                order_id: order_id.into(),
            })
            .await
            .expect("order capture knows the order")
            .into_inner()
    }

    pub async fn wait_for_status(&self, order_id: &str, status: orders::OrderStatus) -> orders::Order {
        eventually(&format!("order {order_id} is {status:?}"), || async move {
            let order = self.order(order_id).await;
            (order.status == status as i32).then_some(order)
        })
        .await
    }

    /// The types of the order's history entries, oldest first.
    pub async fn history(&self, order_id: &str) -> Vec<String> {
        self.orders
            .clone()
            .get_order_history(orders::GetOrderHistoryRequest {
                order_id: order_id.into(),
            })
            .await
            .expect("order capture knows the order")
            .into_inner()
            .entries
            .into_iter()
            .map(|e| e.r#type)
            .collect()
    }

    /// Waits until `node`'s queue has a job for the order.
    pub async fn job_for(&self, node: &str, order_id: &str) -> fulfilment::Job {
        eventually(&format!("{node} has a job for {order_id}"), || async move {
            let queue = self
                .staff
                .clone()
                .list_queue(fulfilment::ListQueueRequest {
                    store_id: node.into(),
                    include_finished: false,
                })
                .await
                .ok()?
                .into_inner();
            queue.jobs.into_iter().find(|j| j.order_id == order_id)
        })
        .await
    }

    pub async fn job(&self, node: &str, job_id: &str) -> fulfilment::Job {
        self.staff
            .clone()
            .get_job(fulfilment::JobRef {
                store_id: node.into(),
                job_id: job_id.into(),
            })
            .await
            .expect("store fulfilment knows the job")
            .into_inner()
    }

    /// The store's staff work a ship-from-store job end to end: accept, pick every unit,
    /// pack, label, hand to the carrier.
    pub async fn ship(&self, store: &str, job: &fulfilment::Job) -> fulfilment::Job {
        let mut staff = self.staff.clone();
        let r = || fulfilment::JobRef {
            store_id: store.into(),
            job_id: job.job_id.clone(),
        };
        staff.accept_job(r()).await.expect("the store accepts");
        staff
            .pick_job(fulfilment::PickJobRequest {
                store_id: store.into(),
                job_id: job.job_id.clone(),
                lines: job
                    .lines
                    .iter()
                    .map(|l| fulfilment::PickedLine {
                        order_line_id: l.order_line_id.clone(),
                        picked: l.ordered,
                        ..Default::default()
                    })
                    .collect(),
            })
            .await
            .expect("the store picks");
        staff
            .pack_job(fulfilment::PackJobRequest {
                store_id: store.into(),
                job_id: job.job_id.clone(),
                packages: vec![fulfilment::Package { weight_grams: 900 }],
            })
            .await
            .expect("the store packs");
        staff.label_job(r()).await.expect("the store labels");
        staff.ship_job(r()).await.expect("the store ships").into_inner()
    }

    pub async fn reservation(&self, reservation_id: &str) -> inventory::Reservation {
        self.ledger
            .clone()
            .get_reservation(inventory::GetReservationRequest {
                reservation_id: reservation_id.into(),
            })
            .await
            .expect("the ledger knows the reservation")
            .into_inner()
    }

    pub async fn wait_for_reservation(&self, reservation_id: &str, status: inventory::ReservationStatus) {
        eventually(&format!("reservation {reservation_id} is {status:?}"), || async move {
            (self.reservation(reservation_id).await.status == status as i32).then_some(())
        })
        .await;
    }
}
