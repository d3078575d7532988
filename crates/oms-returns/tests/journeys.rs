//! Returns journeys over a real broker, with the services around returns: the inventory
//! ledger, order capture and returns run on PostgreSQL and tansu. Orders are placed through
//! order capture; deliveries arrive on `oms.fulfilment.v1` as store fulfilment sends them;
//! the payment gateway adapter answers on `oms.payments.v1`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use oms_eventsourcing::{StoreConfig, SystemClock};
use oms_inventory_ledger::service::RunningInventory;
use oms_inventory_ledger::testing as ledger;
use oms_order_capture::service::RunningOrderCapture;
use oms_order_capture::testing as orders_service;
use oms_proto::common::v1 as common;
use oms_proto::fulfilment::v1 as fulfilment;
use oms_proto::inventory::v1 as inventory;
use oms_proto::inventory::v1::inventory_ledger_client::InventoryLedgerClient;
use oms_proto::orders::v1 as orders;
use oms_proto::orders::v1::order_capture_client::OrderCaptureClient;
use oms_proto::returns::v1 as pb;
use oms_proto::returns::v1::returns_client::ReturnsClient;
use oms_proto::topics;
use oms_returns::service::RunningReturns;
use oms_returns::testing;
use oms_service::convert::timestamp;
use oms_service::testing::Testbed;
use oms_transport::testing::wait_until;
use pb::return_event::Event;
use prost::Message as _;
use tonic::Code;
use tonic::transport::Channel;

struct Rig {
    testbed: Testbed,
    returns_store: StoreConfig,
    ledger: Option<RunningInventory>,
    orders: Option<RunningOrderCapture>,
    returns: Option<RunningReturns>,
    ledger_client: InventoryLedgerClient<Channel>,
    orders_client: OrderCaptureClient<Channel>,
    client: ReturnsClient<Channel>,
}

const STORES: [&str; 3] = ["store-alexanderplatz", "store-kreuzberg", "dc-erfurt"];

impl Rig {
    async fn start() -> Self {
        let mut testbed = Testbed::kafka("returns-test").await;
        let ledger = ledger::started(&mut testbed).await;
        let orders = orders_service::started(&mut testbed).await;
        let mut ledger_client = ledger::client(&ledger).await;
        for id in STORES {
            ledger_client
                .upsert_location(inventory::Location {
                    location_id: id.into(),
                    r#type: inventory::LocationType::Store as i32,
                    name: id.into(),
                    active: true,
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        let returns_store = testbed.store().await;
        let returns = Self::run_returns(&testbed, &returns_store, &orders).await;
        Self {
            orders_client: orders_service::client(&orders).await,
            client: testing::client(&returns).await,
            testbed,
            returns_store,
            ledger: Some(ledger),
            orders: Some(orders),
            returns: Some(returns),
            ledger_client,
        }
    }

    async fn run_returns(testbed: &Testbed, store: &StoreConfig, orders: &RunningOrderCapture) -> RunningReturns {
        let config = testing::config(store.clone(), format!("http://{}", orders.addr));
        testing::start(config, testbed.wiring(), Arc::new(SystemClock)).await
    }

    async fn restart_returns(&mut self) {
        if let Some(returns) = self.returns.take() {
            returns.stop().await;
        }
        let orders = self.orders.as_ref().expect("order capture runs");
        let returns = Self::run_returns(&self.testbed, &self.returns_store, orders).await;
        self.client = testing::client(&returns).await;
        self.returns = Some(returns);
    }

    async fn stop(mut self) {
        if let Some(s) = self.returns.take() {
            s.stop().await;
        }
        if let Some(s) = self.orders.take() {
            s.stop().await;
        }
        if let Some(s) = self.ledger.take() {
            s.stop().await;
        }
    }

    /// An order of 2 jackets at 50.00 and a scarf at 20.00, paid 100.00 by gift card and
    /// the rest by card.
    async fn place(&mut self, external_id: &str) -> String {
        let money = |amount_minor| {
            Some(common::Money {
                amount_minor,
                currency: "EUR".into(),
            })
        };
        let mut draft = orders_service::web_order(external_id, &[("jacket-m", 2, 5_000), ("scarf", 1, 2_000)]);
        draft.payments = vec![
            orders::Payment {
                reference: format!("gift-{external_id}"),
                tender: orders::TenderType::GiftCard as i32,
                authorised: money(10_000),
            },
            orders::Payment {
                reference: format!("card-{external_id}"),
                tender: orders::TenderType::Card as i32,
                authorised: money(2_000),
            },
        ];
        self.orders_client
            .place_order(orders::PlaceOrderRequest { order: Some(draft) })
            .await
            .unwrap()
            .into_inner()
            .order_id
    }

    /// A node shipped these lines of the order `days_ago`.
    async fn shipped(&self, order_id: &str, job: &str, node: &str, lines: &[(&str, &str, i64)], days_ago: i64) {
        let event = fulfilment::FulfilmentEvent {
            event: Some(fulfilment::fulfilment_event::Event::JobShipped(
                fulfilment::JobShipped {
                    job_id: job.into(),
                    order_id: order_id.into(),
                    location_id: node.into(),
                    reservation_id: String::new(),
                    lines: lines
                        .iter()
                        .map(|(line, sku, q)| fulfilment::JobLine {
                            sku: (*sku).into(),
                            quantity: *q,
                            order_line_id: (*line).into(),
                        })
                        .collect(),
                    carrier: "dhl".into(),
                    tracking_number: "JJD1".into(),
                    pickup_location_id: String::new(),
                    at: Some(timestamp(Utc::now() - chrono::Duration::days(days_ago))),
                },
            )),
        };
        self.testbed
            .produce(topics::FULFILMENT.name, order_id, &event.encode_to_vec())
            .await;
    }

    async fn pay(&self, refund_id: &str, declined: Option<&str>) {
        let result = pb::PaymentResult {
            refund_id: refund_id.into(),
            outcome: Some(match declined {
                None => pb::payment_result::Outcome::Refunded(pb::RefundDone {
                    provider_reference: format!("psp-{refund_id}"),
                }),
                Some(reason) => pb::payment_result::Outcome::Declined(pb::RefundDeclined { reason: reason.into() }),
            }),
            at: Some(timestamp(Utc::now())),
        };
        self.testbed
            .produce(topics::PAYMENTS.name, refund_id, &result.encode_to_vec())
            .await;
    }

    /// Starts a return, retrying while returns has not yet learnt the order or delivery.
    async fn start_return(&self, request: pb::StartReturnRequest) -> pb::Return {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.client.clone().start_return(request.clone()).await {
                Ok(r) => return r.into_inner(),
                Err(e) if Instant::now() < deadline && matches!(e.code(), Code::NotFound | Code::InvalidArgument) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("the return was not started: {e:?}"),
            }
        }
    }

    async fn wait_for_return(&self, return_id: &str, done: impl Fn(&pb::Return) -> bool) -> pb::Return {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = self
                .client
                .clone()
                .get_return(pb::GetReturnRequest {
                    return_id: return_id.into(),
                })
                .await
                .unwrap()
                .into_inner();
            if done(&r) {
                return r;
            }
            assert!(Instant::now() < deadline, "the return never got there: {r:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn announced(&mut self, return_id: &str, mut enough: impl FnMut(&[Event]) -> bool) -> Vec<Event> {
        let of = |messages: &[oms_transport::Message]| -> Vec<Event> {
            messages
                .iter()
                .filter(|m| m.key.as_deref() == Some(return_id))
                .filter_map(|m| pb::ReturnEvent::decode(m.payload.as_slice()).ok()?.event)
                .collect()
        };
        let messages = self.testbed.read_topic(topics::RETURNS.name, |m| enough(&of(m))).await;
        of(&messages)
    }

    async fn on_hand(&mut self, location: &str, sku: &str) -> i64 {
        let positions = self
            .ledger_client
            .list_positions(inventory::ListPositionsRequest {
                location_id: location.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        positions
            .positions
            .iter()
            .find(|p| p.sku == sku)
            .map_or(0, |p| p.on_hand)
    }
}

fn line(id: &str, quantity: i64, reason: &str) -> pb::ReturnRequestLine {
    pb::ReturnRequestLine {
        order_line_id: id.into(),
        quantity,
        reason_code: reason.into(),
    }
}

fn names(events: &[Event]) -> Vec<&'static str> {
    events
        .iter()
        .map(|e| match e {
            Event::ItemsRestocked(_) => "restocked",
            Event::ReturnAuthorised(_) => "authorised",
            Event::ReturnReceived(_) => "received",
            Event::RefundConfirmed(_) => "refund confirmed",
            Event::ItemsWrittenOff(_) => "written off",
            Event::RefundRequested(_) => "refund requested",
            Event::RefundFailed(_) => "refund failed",
            Event::ExchangeCreated(_) => "exchange created",
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bought_online_returned_in_store_restocked_and_refunded_to_the_original_tenders() {
    let mut rig = Rig::start().await;
    let order_id = rig.place("R-1").await;
    rig.shipped(
        &order_id,
        "job-1",
        "dc-erfurt",
        &[("1", "jacket-m", 2), ("2", "scarf", 1)],
        2,
    )
    .await;
    let before = rig.on_hand("store-alexanderplatz", "jacket-m").await;
    let started = rig
        .start_return(pb::StartReturnRequest {
            order_id: order_id.clone(),
            lines: vec![line("1", 2, "too-small"), line("2", 1, "changed-mind")],
            method: pb::ReturnMethod::InStore as i32,
            store_id: "store-alexanderplatz".into(),
            requested_by: "store:store-alexanderplatz".into(),
            request_id: "r1".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(started.status, pb::ReturnStatus::Authorised as i32);
    let id = started.return_id.clone();
    let mut c = rig.client.clone();
    c.receive_return(pb::ReceiveReturnRequest {
        return_id: id.clone(),
        location_id: "store-alexanderplatz".into(),
        lines: vec![],
    })
    .await
    .unwrap();
    // One jacket is fine, one is torn; the scarf is fine.
    let inspected = c
        .inspect_return(pb::InspectReturnRequest {
            return_id: id.clone(),
            lines: vec![
                pb::InspectedLine {
                    order_line_id: "1".into(),
                    resellable: 1,
                    damaged: 1,
                },
                pb::InspectedLine {
                    order_line_id: "2".into(),
                    resellable: 1,
                    damaged: 0,
                },
            ],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(inspected.status, pb::ReturnStatus::RefundPending as i32);
    // 120.00 back: the gift card first (100.00), then the card (20.00).
    let refunds: Vec<(i64, &str)> = inspected
        .refunds
        .iter()
        .map(|r| (r.amount.as_ref().unwrap().amount_minor, r.tender.as_str()))
        .collect();
    assert_eq!(
        refunds,
        vec![(10_000, "TENDER_TYPE_GIFT_CARD"), (2_000, "TENDER_TYPE_CARD")]
    );
    for refund in &inspected.refunds {
        rig.pay(&refund.refund_id, None).await;
    }
    let done = rig
        .wait_for_return(&id, |r| r.status == pb::ReturnStatus::Completed as i32)
        .await;
    assert_eq!(done.refunded.unwrap().amount_minor, 12_000);
    let events = rig.announced(&id, |e| names(e).contains(&"refund confirmed")).await;
    assert_eq!(
        names(&events),
        vec![
            "authorised",
            "received",
            "restocked",
            "written off",
            "refund requested",
            "refund requested",
            "refund confirmed"
        ]
    );
    // The resellable units are back on sale where they were received.
    let ledger = rig.ledger_client.clone();
    wait_until("the jacket is back on the shelf", || {
        let mut ledger = ledger.clone();
        async move {
            ledger
                .list_positions(inventory::ListPositionsRequest {
                    location_id: "store-alexanderplatz".into(),
                    ..Default::default()
                })
                .await
                .is_ok_and(|p| {
                    p.into_inner()
                        .positions
                        .iter()
                        .any(|p| p.sku == "jacket-m" && p.on_hand == before + 1)
                })
        }
    })
    .await;
    // Order capture follows: refunded.
    orders_service::wait_for_status(&rig.orders_client, &order_id, orders::OrderStatus::Refunded).await;
    // Nothing more can be returned.
    let refused = c
        .start_return(pb::StartReturnRequest {
            order_id: order_id.clone(),
            lines: vec![line("2", 1, "again")],
            method: pb::ReturnMethod::Mail as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("line 2"), "{}", refused.message());
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_split_order_partly_returned_by_mail_and_returns_refused_outside_the_window() {
    let mut rig = Rig::start().await;
    let order_id = rig.place("R-2").await;
    // Jackets from one store, the scarf from another, 45 days ago.
    rig.shipped(&order_id, "job-a", "store-kreuzberg", &[("1", "jacket-m", 2)], 1)
        .await;
    rig.shipped(&order_id, "job-b", "dc-erfurt", &[("2", "scarf", 1)], 45)
        .await;
    // One jacket of the store's parcel, by mail, received at the warehouse.
    let started = rig
        .start_return(pb::StartReturnRequest {
            order_id: order_id.clone(),
            lines: vec![line("1", 1, "too-big")],
            method: pb::ReturnMethod::Mail as i32,
            request_id: "r2".into(),
            ..Default::default()
        })
        .await;
    // Asking again with the same request id answers the same return.
    let again = rig
        .start_return(pb::StartReturnRequest {
            order_id: order_id.clone(),
            lines: vec![line("1", 1, "too-big")],
            method: pb::ReturnMethod::Mail as i32,
            request_id: "r2".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(again.return_id, started.return_id);
    let mut c = rig.client.clone();
    // The scarf's window has closed; three jackets were never bought.
    let refused = c
        .start_return(pb::StartReturnRequest {
            order_id: order_id.clone(),
            lines: vec![line("2", 1, "late"), line("1", 3, "greedy")],
            method: pb::ReturnMethod::Mail as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("return window has closed"),
        "{}",
        refused.message()
    );
    assert!(
        refused.message().contains("3 asked, 1 can be returned"),
        "{}",
        refused.message()
    );
    // Inspecting before receiving is refused.
    let early = c
        .inspect_return(pb::InspectReturnRequest {
            return_id: started.return_id.clone(),
            lines: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition);
    c.receive_return(pb::ReceiveReturnRequest {
        return_id: started.return_id.clone(),
        location_id: "dc-erfurt".into(),
        lines: vec![pb::ReceivedLine {
            order_line_id: "1".into(),
            quantity: 1,
        }],
    })
    .await
    .unwrap();
    let inspected = c
        .inspect_return(pb::InspectReturnRequest {
            return_id: started.return_id.clone(),
            lines: vec![pb::InspectedLine {
                order_line_id: "1".into(),
                resellable: 1,
                damaged: 0,
            }],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(inspected.refunds.len(), 1);
    assert_eq!(inspected.refunds[0].amount.as_ref().unwrap().amount_minor, 5_000);
    assert_eq!(inspected.refunds[0].tender, "TENDER_TYPE_GIFT_CARD");
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_refund_is_retried_once_and_a_duplicate_confirmation_changes_nothing() {
    let mut rig = Rig::start().await;
    let order_id = rig.place("R-3").await;
    rig.shipped(
        &order_id,
        "job-1",
        "dc-erfurt",
        &[("1", "jacket-m", 2), ("2", "scarf", 1)],
        1,
    )
    .await;
    let started = rig
        .start_return(pb::StartReturnRequest {
            order_id: order_id.clone(),
            lines: vec![line("2", 1, "colour")],
            method: pb::ReturnMethod::Locker as i32,
            store_credit: false,
            request_id: "r3".into(),
            ..Default::default()
        })
        .await;
    let id = started.return_id.clone();
    let mut c = rig.client.clone();
    c.receive_return(pb::ReceiveReturnRequest {
        return_id: id.clone(),
        location_id: "dc-erfurt".into(),
        lines: vec![],
    })
    .await
    .unwrap();
    let inspected = c
        .inspect_return(pb::InspectReturnRequest {
            return_id: id.clone(),
            lines: vec![pb::InspectedLine {
                order_line_id: "2".into(),
                resellable: 1,
                damaged: 0,
            }],
        })
        .await
        .unwrap()
        .into_inner();
    let first = inspected.refunds[0].refund_id.clone();
    rig.pay(&first, Some("card expired")).await;
    let failed = rig
        .wait_for_return(&id, |r| r.status == pb::ReturnStatus::RefundFailed as i32)
        .await;
    assert_eq!(failed.refunds[0].reason, "card expired");
    // Restarted, returns still knows it all.
    rig.restart_returns().await;
    let mut c = rig.client.clone();
    let retried = c
        .retry_refund(pb::RetryRefundRequest { return_id: id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried.status, pb::ReturnStatus::RefundPending as i32);
    let second = retried.refunds.last().unwrap().refund_id.clone();
    assert_ne!(second, first);
    rig.pay(&second, None).await;
    rig.pay(&second, None).await;
    let done = rig
        .wait_for_return(&id, |r| r.status == pb::ReturnStatus::Completed as i32)
        .await;
    assert_eq!(done.refunded.unwrap().amount_minor, 2_000, "refunded once");
    let events = rig.announced(&id, |e| names(e).contains(&"refund confirmed")).await;
    // Give a duplicate time to show up, then count.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events_later = rig.announced(&id, |e| e.len() >= events.len()).await;
    assert_eq!(
        names(&events_later)
            .iter()
            .filter(|n| **n == "refund confirmed")
            .count(),
        1
    );
    assert_eq!(
        names(&events_later).iter().filter(|n| **n == "refund failed").count(),
        1
    );
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_exchange_places_a_replacement_order_and_refunds_nothing() {
    let mut rig = Rig::start().await;
    let order_id = rig.place("R-4").await;
    rig.shipped(
        &order_id,
        "job-1",
        "dc-erfurt",
        &[("1", "jacket-m", 2), ("2", "scarf", 1)],
        1,
    )
    .await;
    let started = rig
        .start_return(pb::StartReturnRequest {
            order_id: order_id.clone(),
            lines: vec![line("1", 1, "too-small")],
            method: pb::ReturnMethod::InStore as i32,
            store_id: "store-kreuzberg".into(),
            exchange: vec![pb::ExchangeLine {
                order_line_id: "1".into(),
                sku: "jacket-l".into(),
                quantity: 1,
            }],
            request_id: "r4".into(),
            ..Default::default()
        })
        .await;
    assert!(!started.replacement_order_id.is_empty(), "{started:?}");
    let replacement = rig
        .orders_client
        .get_order(orders::GetOrderRequest {
            order_id: started.replacement_order_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replacement.lines.len(), 1);
    let mut c = rig.client.clone();
    c.receive_return(pb::ReceiveReturnRequest {
        return_id: started.return_id.clone(),
        location_id: "store-kreuzberg".into(),
        lines: vec![],
    })
    .await
    .unwrap();
    let inspected = c
        .inspect_return(pb::InspectReturnRequest {
            return_id: started.return_id.clone(),
            lines: vec![pb::InspectedLine {
                order_line_id: "1".into(),
                resellable: 1,
                damaged: 0,
            }],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(inspected.refunds.is_empty(), "an even exchange needs no refund");
    assert_eq!(inspected.status, pb::ReturnStatus::Completed as i32);
    let events = rig
        .announced(&started.return_id, |e| names(e).contains(&"restocked"))
        .await;
    let created = events.iter().find_map(|e| match e {
        Event::ExchangeCreated(x) => Some(x),
        _ => None,
    });
    assert_eq!(
        created.map(|x| x.replacement_order_id.as_str()),
        Some(started.replacement_order_id.as_str())
    );
    rig.stop().await;
}
