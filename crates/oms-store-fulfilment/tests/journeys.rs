//! Every journey a job can take, over a real broker: store fulfilment runs as a service on
//! PostgreSQL and a tansu broker, routing's requests arrive on `oms.routing.v1` as routing
//! sends them, store staff work through the gRPC API, warehouse and supplier systems confirm
//! on their topic, and what store fulfilment announces is read back from
//! `oms.fulfilment.v1`. Time is a manual clock, so deadlines pass when a test says so.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use oms_eventsourcing::StoreConfig;
use oms_eventsourcing::clock::ManualClock;
use oms_proto::common::v1 as common;
use oms_proto::fulfilment::v1 as pb;
use oms_proto::fulfilment::v1::store_fulfilment_client::StoreFulfilmentClient;
use oms_proto::orders::v1 as orders;
use oms_proto::routing::v1 as routing;
use oms_proto::topics;
use oms_service::convert::timestamp;
use oms_service::testing::Testbed;
use oms_store_fulfilment::service::RunningFulfilment;
use oms_store_fulfilment::testing;
use pb::fulfilment_event::Event;
use prost::Message as _;
use tonic::Code;
use tonic::transport::Channel;

type Client = StoreFulfilmentClient<Channel>;

struct Rig {
    testbed: Testbed,
    store: StoreConfig,
    clock: ManualClock,
    service: Option<RunningFulfilment>,
    client: Client,
}

impl Rig {
    async fn start() -> Self {
        let mut testbed = Testbed::kafka("fulfilment-test").await;
        let store = testbed.store().await;
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap());
        let (service, client) = Self::run(&testbed, &store, &clock).await;
        Self {
            testbed,
            store,
            clock,
            service: Some(service),
            client,
        }
    }

    async fn run(testbed: &Testbed, store: &StoreConfig, clock: &ManualClock) -> (RunningFulfilment, Client) {
        let service = testing::start(
            testing::config(store.clone()),
            testbed.wiring(),
            Arc::new(clock.clone()),
        )
        .await;
        let client = testing::client(&service).await;
        (service, client)
    }

    async fn restart(&mut self) {
        if let Some(service) = self.service.take() {
            service.stop().await;
        }
        let (service, client) = Self::run(&self.testbed, &self.store, &self.clock).await;
        self.service = Some(service);
        self.client = client;
    }

    async fn stop(mut self) {
        if let Some(service) = self.service.take() {
            service.stop().await;
        }
    }

    /// Routing asks `node` to fulfil `lines` of `order` by `method`.
    async fn request(&self, job: &str, node: &str, node_type: &str, method: orders::DeliveryMethod, pickup_at: &str) {
        let pickup_type = if pickup_at.is_empty() { "" } else { "NODE_TYPE_STORE" };
        self.request_to(job, node, node_type, method, pickup_at, pickup_type)
            .await;
    }

    /// As [`Rig::request`], for a customer who collects at `pickup_at` of `pickup_type`.
    async fn request_to(
        &self,
        job: &str,
        node: &str,
        node_type: &str,
        method: orders::DeliveryMethod,
        pickup_at: &str,
        pickup_type: &str,
    ) {
        let request = routing::RoutingEvent {
            event: Some(routing::routing_event::Event::FulfilmentRequested(
                routing::FulfilmentRequested {
                    fulfilment_request_id: job.into(),
                    order_id: order_of(job),
                    node_id: node.into(),
                    node_type: node_type.into(),
                    lines: vec![
                        routing::AllocatedLine {
                            order_line_id: "1".into(),
                            sku: "jacket-m".into(),
                            quantity: 2,
                        },
                        routing::AllocatedLine {
                            order_line_id: "2".into(),
                            sku: "scarf".into(),
                            quantity: 1,
                        },
                    ],
                    delivery_method: method as i32,
                    reservation_id: job.into(),
                    pickup_location_id: pickup_at.into(),
                    pickup_location_type: pickup_type.into(),
                    promised_at: Some(timestamp(Utc.with_ymd_and_hms(2026, 11, 26, 18, 0, 0).unwrap())),
                    priority: 0,
                    at: Some(timestamp(Utc::now())),
                    shipping_address: Some(common::Address {
                        name: "Ada Lovelace".into(),
                        lines: vec!["Unter den Linden 1".into()],
                        city: "Berlin".into(),
                        postal_code: "10117".into(),
                        country: "DE".into(),
                        ..Default::default()
                    }),
                    customer_name: "Ada".into(),
                },
            )),
        };
        self.testbed
            .produce(topics::ROUTING.name, &order_of(job), &request.encode_to_vec())
            .await;
    }

    async fn confirm(&self, job: &str, outcome: pb::node_confirmation::Outcome) {
        let confirmation = pb::NodeConfirmation {
            job_id: job.into(),
            confirmation_id: format!("{job}-{}", uuid_like()),
            at: Some(timestamp(Utc::now())),
            outcome: Some(outcome),
        };
        self.testbed
            .produce(topics::CONFIRMATIONS.name, job, &confirmation.encode_to_vec())
            .await;
    }

    /// Waits until `store` has the job.
    async fn job_at(&self, store: &str, job: &str) -> pb::Job {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = self
                .client
                .clone()
                .get_job(pb::JobRef {
                    store_id: store.into(),
                    job_id: job.into(),
                })
                .await;
            match found {
                Ok(job) => return job.into_inner(),
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(e) => panic!("{store} never got job {job}: {e}"),
            }
        }
    }

    /// The ids of the open jobs in `store`'s queue.
    async fn queue(&self, store: &str) -> Vec<String> {
        let queue = self
            .client
            .clone()
            .list_queue(pb::ListQueueRequest {
                store_id: store.into(),
                include_finished: false,
            })
            .await
            .expect("the queue")
            .into_inner();
        queue.jobs.into_iter().map(|j| j.job_id).collect()
    }

    async fn wait_for_status(&self, store: &str, job: &str, status: pb::JobStatus) -> pb::Job {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = self.job_at(store, job).await;
            if found.status == status as i32 {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "job {job} never became {status:?}: {found:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What store fulfilment announced about `job`, once `enough` says so.
    async fn announced(&mut self, job: &str, mut enough: impl FnMut(&[Event]) -> bool) -> Vec<Event> {
        let of_job = |messages: &[oms_transport::Message]| -> Vec<Event> {
            messages
                .iter()
                .filter_map(|m| pb::FulfilmentEvent::decode(m.payload.as_slice()).ok()?.event)
                .filter(|e| job_id(e) == job)
                .collect()
        };
        let messages = self
            .testbed
            .read_topic(topics::FULFILMENT.name, |m| enough(&of_job(m)))
            .await;
        of_job(&messages)
    }

    fn r(&self, store: &str, job: &str) -> pb::JobRef {
        pb::JobRef {
            store_id: store.into(),
            job_id: job.into(),
        }
    }
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn order_of(job: &str) -> String {
    job.split('/').next().unwrap_or(job).to_owned()
}

fn job_id(event: &Event) -> &str {
    match event {
        Event::JobShipped(e) => &e.job_id,
        Event::JobCollected(e) => &e.job_id,
        Event::JobRejected(e) => &e.job_id,
        Event::JobCancelled(e) => &e.job_id,
        Event::JobAccepted(e) => &e.job_id,
        Event::ReadyForPickup(e) => &e.job_id,
        Event::JobDelivered(e) => &e.job_id,
        Event::JobRequested(e) => &e.job_id,
        Event::JobPicked(e) => &e.job_id,
        Event::JobPacked(e) => &e.job_id,
        Event::SlaBreached(e) => &e.job_id,
        Event::JobWithdrawn(e) => &e.job_id,
    }
}

fn names(events: &[Event]) -> Vec<&'static str> {
    events
        .iter()
        .map(|e| match e {
            Event::JobShipped(_) => "shipped",
            Event::JobCollected(_) => "collected",
            Event::JobRejected(_) => "rejected",
            Event::JobCancelled(_) => "cancelled",
            Event::JobAccepted(_) => "accepted",
            Event::ReadyForPickup(_) => "ready for pickup",
            Event::JobDelivered(_) => "delivered",
            Event::JobRequested(_) => "requested",
            Event::JobPicked(_) => "picked",
            Event::JobPacked(_) => "packed",
            Event::SlaBreached(_) => "sla breached",
            Event::JobWithdrawn(_) => "withdrawn",
        })
        .collect()
}

/// A node's system reports the job shipped in full: two jackets and a scarf.
fn shipped_in_full(tracking_number: &str) -> pb::node_confirmation::Outcome {
    let line = |order_line_id: &str, sku: &str, quantity| pb::JobLine {
        sku: sku.into(),
        quantity,
        order_line_id: order_line_id.into(),
    };
    pb::node_confirmation::Outcome::Shipped(pb::NodeShipped {
        carrier: "dhl".into(),
        tracking_number: tracking_number.into(),
        lines: vec![line("1", "jacket-m", 2), line("2", "scarf", 1)],
    })
}

fn pick(store: &str, job: &str, jackets: i64, scarves: i64) -> pb::PickJobRequest {
    pb::PickJobRequest {
        store_id: store.into(),
        job_id: job.into(),
        lines: vec![
            pb::PickedLine {
                order_line_id: "1".into(),
                picked: jackets,
                ..Default::default()
            },
            pb::PickedLine {
                order_line_id: "2".into(),
                picked: scarves,
                ..Default::default()
            },
        ],
    }
}

const STORE: &str = "store-kreuzberg";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ship_from_store_accept_pick_pack_label_ship() {
    let mut rig = Rig::start().await;
    let job = "web-1/1.0/store-kreuzberg";
    rig.request(job, STORE, "NODE_TYPE_STORE", orders::DeliveryMethod::Standard, "")
        .await;
    let queued = rig.job_at(STORE, job).await;
    assert_eq!(queued.kind, "ship");
    assert!(queued.accept_by.is_some(), "a store job has an acceptance deadline");
    let queue = rig
        .client
        .list_queue(pb::ListQueueRequest {
            store_id: STORE.into(),
            include_finished: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(queue.jobs.len(), 1);

    let mut c = rig.client.clone();
    c.accept_job(rig.r(STORE, job)).await.unwrap();
    // The same step again answers the job as it is.
    let again = c.accept_job(rig.r(STORE, job)).await.unwrap().into_inner();
    assert_eq!(again.status, pb::JobStatus::Accepted as i32);
    // Packing before picking is refused and changes nothing.
    let refused = c
        .pack_job(pb::PackJobRequest {
            store_id: STORE.into(),
            job_id: job.into(),
            packages: vec![pb::Package { weight_grams: 900 }],
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains("accepted"), "{}", refused.message());
    assert_eq!(rig.job_at(STORE, job).await.status, pb::JobStatus::Accepted as i32);
    // Another store cannot touch it.
    let refused = c.accept_job(rig.r("store-potsdam", job)).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    c.pick_job(pick(STORE, job, 2, 1)).await.unwrap();
    c.pack_job(pb::PackJobRequest {
        store_id: STORE.into(),
        job_id: job.into(),
        packages: vec![pb::Package { weight_grams: 900 }, pb::Package { weight_grams: 250 }],
    })
    .await
    .unwrap();
    let labelled = c.label_job(rig.r(STORE, job)).await.unwrap().into_inner();
    assert_eq!(labelled.carrier, "dpd", "the cheapest standard service");
    let label = c.get_label(rig.r(STORE, job)).await.unwrap().into_inner();
    let zpl = String::from_utf8(label.content).unwrap();
    assert!(
        zpl.starts_with("^XA") && zpl.contains(&labelled.tracking_number),
        "{zpl}"
    );
    assert!(zpl.contains("Unter den Linden 1"));
    let shipped = c.ship_job(rig.r(STORE, job)).await.unwrap().into_inner();
    assert_eq!(shipped.status, pb::JobStatus::Shipped as i32);

    let events = rig.announced(job, |e| names(e).contains(&"shipped")).await;
    assert_eq!(names(&events), vec!["accepted", "picked", "packed", "shipped"]);
    let Event::JobShipped(s) = &events[3] else {
        unreachable!()
    };
    assert_eq!(s.tracking_number, labelled.tracking_number);
    assert_eq!(s.reservation_id, job);
    assert_eq!(s.lines.iter().map(|l| l.quantity).sum::<i64>(), 3);
    // Shipping again, or shipping a finished job's steps out of order, is refused.
    let refused = c.pick_job(pick(STORE, job, 2, 1)).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn click_and_collect_curbside_and_locker_end_with_the_customer() {
    let mut rig = Rig::start().await;
    let mut c = rig.client.clone();
    // Click & collect.
    let counter = "web-2/1.0/store-kreuzberg";
    rig.request(
        counter,
        STORE,
        "NODE_TYPE_STORE",
        orders::DeliveryMethod::ClickAndCollect,
        STORE,
    )
    .await;
    assert_eq!(rig.job_at(STORE, counter).await.kind, "pickup");
    c.accept_job(rig.r(STORE, counter)).await.unwrap();
    c.pick_job(pick(STORE, counter, 2, 1)).await.unwrap();
    let ready = c
        .mark_ready_for_pickup(rig.r(STORE, counter))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ready.pickup_code.len(), 6);
    let wrong = c
        .hand_over(pb::HandOverRequest {
            store_id: STORE.into(),
            job_id: counter.into(),
            pickup_code: "not-it".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::InvalidArgument);
    assert!(wrong.message().contains("pickup_code"));
    let collected = c
        .hand_over(pb::HandOverRequest {
            store_id: STORE.into(),
            job_id: counter.into(),
            pickup_code: ready.pickup_code.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(collected.status, pb::JobStatus::Collected as i32);
    let events = rig.announced(counter, |e| names(e).contains(&"collected")).await;
    assert_eq!(
        names(&events),
        vec!["accepted", "picked", "ready for pickup", "collected"]
    );
    let Event::ReadyForPickup(r) = &events[2] else {
        unreachable!()
    };
    assert_eq!(r.pickup_code, ready.pickup_code);
    assert!(r.collect_by.is_some());

    // Curbside: the customer arrives, the units are brought out.
    let curb = "web-3/1.0/store-kreuzberg";
    rig.request(curb, STORE, "NODE_TYPE_STORE", orders::DeliveryMethod::Curbside, STORE)
        .await;
    rig.job_at(STORE, curb).await;
    c.accept_job(rig.r(STORE, curb)).await.unwrap();
    c.pick_job(pick(STORE, curb, 2, 1)).await.unwrap();
    let ready = c.mark_ready_for_pickup(rig.r(STORE, curb)).await.unwrap().into_inner();
    let waiting = c
        .customer_arrived(pb::CustomerArrivedRequest {
            store_id: STORE.into(),
            job_id: curb.into(),
            bay: "3".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(waiting.status, pb::JobStatus::CustomerWaiting as i32);
    assert_eq!(waiting.curbside_bay, "3");
    c.hand_over(pb::HandOverRequest {
        store_id: STORE.into(),
        job_id: curb.into(),
        pickup_code: ready.pickup_code,
    })
    .await
    .unwrap();

    // Locker: deposited with a code, collected with it.
    let locker = "web-4/1.0/store-kreuzberg";
    rig.request(locker, STORE, "NODE_TYPE_STORE", orders::DeliveryMethod::Locker, STORE)
        .await;
    assert_eq!(rig.job_at(STORE, locker).await.kind, "locker");
    c.accept_job(rig.r(STORE, locker)).await.unwrap();
    c.pick_job(pick(STORE, locker, 2, 1)).await.unwrap();
    // A locker job is not put on the counter.
    let refused = c.mark_ready_for_pickup(rig.r(STORE, locker)).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    let deposited = c
        .deposit_in_locker(pb::DepositInLockerRequest {
            store_id: STORE.into(),
            job_id: locker.into(),
            locker_id: "L-12".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deposited.locker_id, "L-12");
    c.hand_over(pb::HandOverRequest {
        store_id: STORE.into(),
        job_id: locker.into(),
        pickup_code: deposited.pickup_code,
    })
    .await
    .unwrap();
    rig.wait_for_status(STORE, locker, pb::JobStatus::Collected).await;
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn warehouse_drop_ship_and_ship_to_store_jobs_are_confirmed_by_the_nodes_systems() {
    let mut rig = Rig::start().await;
    // A warehouse job: published for the WMS, confirmed shipped with one scarf missing.
    let dc = "web-5/1.0/dc-erfurt";
    rig.request(
        dc,
        "dc-erfurt",
        "NODE_TYPE_WAREHOUSE",
        orders::DeliveryMethod::Standard,
        "",
    )
    .await;
    let events = rig.announced(dc, |e| names(e).contains(&"requested")).await;
    let Event::JobRequested(requested) = &events[0] else {
        unreachable!()
    };
    assert_eq!(requested.location_id, "dc-erfurt");
    assert_eq!(requested.delivery_method, "DELIVERY_METHOD_STANDARD");
    assert_eq!(requested.ship_to.as_ref().unwrap().city, "Berlin");
    // Staff of a store cannot work it.
    let refused = rig.client.clone().accept_job(rig.r("dc-erfurt", dc)).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    rig.confirm(dc, pb::node_confirmation::Outcome::Accepted(pb::NodeAccepted {}))
        .await;
    rig.confirm(
        dc,
        pb::node_confirmation::Outcome::Shipped(pb::NodeShipped {
            carrier: "dhl".into(),
            tracking_number: "JJD000111".into(),
            lines: vec![pb::JobLine {
                sku: "jacket-m".into(),
                quantity: 2,
                order_line_id: String::new(),
            }],
        }),
    )
    .await;
    let events = rig.announced(dc, |e| names(e).contains(&"rejected")).await;
    assert_eq!(names(&events), vec!["requested", "accepted", "shipped", "rejected"]);
    let Event::JobRejected(missing) = &events[3] else {
        unreachable!()
    };
    assert_eq!(missing.reason, pb::RejectReason::OutOfStock as i32);
    assert_eq!(
        (missing.lines[0].sku.as_str(), missing.lines[0].quantity),
        ("scarf", 1),
        "the short-shipped scarf goes back to routing"
    );

    // Drop-ship: the supplier's system ships it all.
    let supplier = "web-6/1.0/supplier-acme";
    rig.request(
        supplier,
        "supplier-acme",
        "NODE_TYPE_SUPPLIER",
        orders::DeliveryMethod::Standard,
        "",
    )
    .await;
    rig.announced(supplier, |e| names(e).contains(&"requested")).await;
    rig.confirm(
        supplier,
        pb::node_confirmation::Outcome::Shipped(pb::NodeShipped {
            carrier: "ups".into(),
            tracking_number: "1Z999".into(),
            lines: vec![
                pb::JobLine {
                    sku: "jacket-m".into(),
                    quantity: 2,
                    order_line_id: "1".into(),
                },
                pb::JobLine {
                    sku: "scarf".into(),
                    quantity: 1,
                    order_line_id: "2".into(),
                },
            ],
        }),
    )
    .await;
    let events = rig.announced(supplier, |e| names(e).contains(&"shipped")).await;
    assert_eq!(names(&events), vec!["requested", "shipped"]);

    // Ship-to-store: the warehouse ships to the store, the store receives the parcel and
    // the customer collects it there.
    let sts = "web-7/1.0/dc-erfurt";
    rig.request(
        sts,
        "dc-erfurt",
        "NODE_TYPE_WAREHOUSE",
        orders::DeliveryMethod::ShipToStore,
        STORE,
    )
    .await;
    let events = rig.announced(sts, |e| names(e).contains(&"requested")).await;
    let Event::JobRequested(requested) = &events[0] else {
        unreachable!()
    };
    assert_eq!(requested.destination_store_id, STORE);
    let mut c = rig.client.clone();
    let early = c.receive_parcel(rig.r(STORE, sts)).await.unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition, "not shipped yet");
    rig.confirm(sts, shipped_in_full("JJD000222")).await;
    rig.wait_for_status(STORE, sts, pb::JobStatus::InTransitToStore).await;
    let ready = c.receive_parcel(rig.r(STORE, sts)).await.unwrap().into_inner();
    assert_eq!(ready.status, pb::JobStatus::ReadyForPickup as i32);
    c.hand_over(pb::HandOverRequest {
        store_id: STORE.into(),
        job_id: sts.into(),
        pickup_code: ready.pickup_code,
    })
    .await
    .unwrap();
    let events = rig.announced(sts, |e| names(e).contains(&"collected")).await;
    assert_eq!(
        names(&events),
        vec!["requested", "shipped", "ready for pickup", "collected"]
    );
    let Event::ReadyForPickup(at_store) = &events[2] else {
        unreachable!()
    };
    assert_eq!(at_store.location_id, STORE);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rejects_short_picks_and_missed_deadlines_send_units_back_to_routing() {
    let mut rig = Rig::start().await;
    let mut c = rig.client.clone();
    // Rejected for capacity.
    let rejected = "web-8/1.0/store-kreuzberg";
    rig.request(rejected, STORE, "NODE_TYPE_STORE", orders::DeliveryMethod::Standard, "")
        .await;
    rig.job_at(STORE, rejected).await;
    c.reject_job(pb::RejectJobRequest {
        store_id: STORE.into(),
        job_id: rejected.into(),
        reason: pb::RejectReason::Capacity as i32,
    })
    .await
    .unwrap();
    let events = rig.announced(rejected, |e| names(e).contains(&"rejected")).await;
    let Event::JobRejected(r) = &events[0] else {
        unreachable!()
    };
    assert_eq!(r.reason, pb::RejectReason::Capacity as i32);
    assert_eq!(r.lines.len(), 2);
    // A rejected job cannot be shipped.
    assert_eq!(
        c.ship_job(rig.r(STORE, rejected)).await.unwrap_err().code(),
        Code::FailedPrecondition
    );

    // A short pick: one jacket found of two.
    let short = "web-9/1.0/store-kreuzberg";
    rig.request(short, STORE, "NODE_TYPE_STORE", orders::DeliveryMethod::Standard, "")
        .await;
    rig.job_at(STORE, short).await;
    c.accept_job(rig.r(STORE, short)).await.unwrap();
    let over = c.pick_job(pick(STORE, short, 3, 1)).await.unwrap_err();
    assert_eq!(over.code(), Code::InvalidArgument, "more than ordered");
    c.pick_job(pick(STORE, short, 1, 1)).await.unwrap();
    let events = rig.announced(short, |e| names(e).contains(&"rejected")).await;
    assert_eq!(names(&events), vec!["accepted", "picked", "rejected"]);
    let Event::JobRejected(missing) = &events[2] else {
        unreachable!()
    };
    assert_eq!(missing.reason, pb::RejectReason::OutOfStock as i32);
    assert_eq!(
        (missing.lines[0].order_line_id.as_str(), missing.lines[0].quantity),
        ("1", 1)
    );

    // Nobody accepts within the hour: the store loses the job.
    let slow = "web-10/1.0/store-kreuzberg";
    rig.request(slow, STORE, "NODE_TYPE_STORE", orders::DeliveryMethod::Standard, "")
        .await;
    rig.job_at(STORE, slow).await;
    rig.clock.advance(chrono::Duration::minutes(61));
    let events = rig.announced(slow, |e| names(e).contains(&"rejected")).await;
    assert_eq!(names(&events), vec!["sla breached", "rejected"]);
    let Event::JobRejected(timeout) = &events[1] else {
        unreachable!()
    };
    assert_eq!(timeout.reason, pb::RejectReason::AcceptanceTimeout as i32);
    assert_eq!(
        c.accept_job(rig.r(STORE, slow)).await.unwrap_err().code(),
        Code::FailedPrecondition,
        "too late"
    );
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_uncollected_order_is_cancelled_and_jobs_survive_a_restart() {
    let mut rig = Rig::start().await;
    let mut c = rig.client.clone();
    let job = "web-11/1.0/store-kreuzberg";
    rig.request(
        job,
        STORE,
        "NODE_TYPE_STORE",
        orders::DeliveryMethod::ClickAndCollect,
        STORE,
    )
    .await;
    rig.job_at(STORE, job).await;
    c.accept_job(rig.r(STORE, job)).await.unwrap();
    c.pick_job(pick(STORE, job, 2, 1)).await.unwrap();
    let ready = c.mark_ready_for_pickup(rig.r(STORE, job)).await.unwrap().into_inner();

    rig.restart().await;
    let after = rig.job_at(STORE, job).await;
    assert_eq!(after, ready, "the job is rebuilt from its log as it was");

    rig.clock.advance(chrono::Duration::days(8));
    let events = rig.announced(job, |e| names(e).contains(&"cancelled")).await;
    let Some(Event::JobCancelled(cancelled)) = events.last() else {
        unreachable!()
    };
    assert!(cancelled.uncollected);
    assert_eq!(cancelled.reservation_id, job, "the ledger releases the units");
    assert!(
        cancelled.returned_to_location_id.is_empty(),
        "the units never left the store: its reservation still holds them"
    );
    let mut c = rig.client.clone();
    assert_eq!(
        c.hand_over(pb::HandOverRequest {
            store_id: STORE.into(),
            job_id: job.into(),
            pickup_code: ready.pickup_code,
        })
        .await
        .unwrap_err()
        .code(),
        Code::FailedPrecondition
    );
    rig.stop().await;
}

/// Packs a picked parcel, labels it and hands it to the carrier, as `store`'s staff do.
async fn pack_label_ship(rig: &Rig, store: &str, job: &str) -> pb::Job {
    let mut c = rig.client.clone();
    c.pack_job(pb::PackJobRequest {
        store_id: store.into(),
        job_id: job.into(),
        packages: vec![pb::Package { weight_grams: 1_200 }],
    })
    .await
    .expect("packed");
    c.label_job(rig.r(store, job)).await.expect("labelled");
    c.ship_job(rig.r(store, job)).await.expect("shipped").into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_ships_to_the_store_where_the_customer_collects_and_that_store_hands_it_over() {
    const PICKUP_STORE: &str = "store-alexanderplatz";
    let mut rig = Rig::start().await;
    let mut c = rig.client.clone();
    let job = "web-12/1.0/store-kreuzberg";
    rig.request(
        job,
        STORE,
        "NODE_TYPE_STORE",
        orders::DeliveryMethod::ShipToStore,
        PICKUP_STORE,
    )
    .await;
    let queued = rig.job_at(STORE, job).await;
    assert_eq!(queued.kind, "ship_to_store");
    // The sending store works it first; the pickup store does not see it yet.
    assert_eq!(rig.queue(STORE).await, vec![job.to_owned()]);
    assert!(rig.queue(PICKUP_STORE).await.is_empty());
    c.accept_job(rig.r(STORE, job)).await.unwrap();
    c.pick_job(pick(STORE, job, 2, 1)).await.unwrap();
    let label = {
        c.pack_job(pb::PackJobRequest {
            store_id: STORE.into(),
            job_id: job.into(),
            packages: vec![pb::Package { weight_grams: 900 }],
        })
        .await
        .unwrap();
        c.label_job(rig.r(STORE, job)).await.unwrap();
        c.get_label(rig.r(STORE, job)).await.unwrap().into_inner()
    };
    let label = String::from_utf8_lossy(&label.content).into_owned();
    assert!(
        label.contains(PICKUP_STORE),
        "the label is addressed to the pickup store: {label}"
    );
    let shipped = c.ship_job(rig.r(STORE, job)).await.unwrap().into_inner();
    assert_eq!(shipped.status, pb::JobStatus::InTransitToStore as i32);

    // Now it is the pickup store's: in transit, received, handed over with the code.
    assert!(rig.queue(STORE).await.is_empty());
    assert_eq!(rig.queue(PICKUP_STORE).await, vec![job.to_owned()]);
    let early = c.hand_over(pb::HandOverRequest {
        store_id: PICKUP_STORE.into(),
        job_id: job.into(),
        pickup_code: "000000".into(),
    });
    assert_eq!(early.await.unwrap_err().code(), Code::FailedPrecondition);
    let refused = c.receive_parcel(rig.r(STORE, job)).await.unwrap_err();
    assert_eq!(
        refused.code(),
        Code::PermissionDenied,
        "the sender cannot receive its own parcel"
    );
    let ready = c.receive_parcel(rig.r(PICKUP_STORE, job)).await.unwrap().into_inner();
    assert_eq!(ready.status, pb::JobStatus::ReadyForPickup as i32);
    c.hand_over(pb::HandOverRequest {
        store_id: PICKUP_STORE.into(),
        job_id: job.into(),
        pickup_code: ready.pickup_code.clone(),
    })
    .await
    .unwrap();
    let events = rig.announced(job, |e| names(e).contains(&"collected")).await;
    assert_eq!(
        names(&events),
        vec![
            "accepted",
            "picked",
            "packed",
            "shipped",
            "ready for pickup",
            "collected"
        ]
    );
    let Event::JobShipped(left) = &events[3] else {
        unreachable!()
    };
    assert_eq!(
        (left.location_id.as_str(), left.pickup_location_id.as_str()),
        (STORE, PICKUP_STORE)
    );
    let Event::ReadyForPickup(waiting) = &events[4] else {
        unreachable!()
    };
    assert_eq!(
        (waiting.location_id.as_str(), waiting.pickup_code.as_str()),
        (PICKUP_STORE, ready.pickup_code.as_str())
    );
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parcels_for_a_locker_bank_are_deposited_by_the_courier_and_collected_or_sent_back() {
    const LOCKER: &str = "locker-hauptbahnhof";
    let mut rig = Rig::start().await;
    let mut c = rig.client.clone();

    // From the warehouse: its WMS ships to the locker bank, the courier deposits the
    // parcel, the customer collects it with the code.
    let from_dc = "web-13/1.0/dc-erfurt";
    rig.request_to(
        from_dc,
        "dc-erfurt",
        "NODE_TYPE_WAREHOUSE",
        orders::DeliveryMethod::Locker,
        LOCKER,
        "NODE_TYPE_LOCKER",
    )
    .await;
    let events = rig.announced(from_dc, |e| names(e).contains(&"requested")).await;
    let Event::JobRequested(requested) = &events[0] else {
        unreachable!()
    };
    assert_eq!(requested.destination_locker_id, LOCKER);
    assert_eq!(rig.job_at(LOCKER, from_dc).await.kind, "ship_to_locker");
    let early = c
        .deposit_in_locker(pb::DepositInLockerRequest {
            store_id: LOCKER.into(),
            job_id: from_dc.into(),
            locker_id: "C-07".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition, "nothing to deposit yet");
    rig.confirm(from_dc, shipped_in_full("JJD000333")).await;
    rig.wait_for_status(LOCKER, from_dc, pb::JobStatus::InTransitToLocker)
        .await;
    let deposited = c
        .deposit_in_locker(pb::DepositInLockerRequest {
            store_id: LOCKER.into(),
            job_id: from_dc.into(),
            locker_id: "C-07".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deposited.status, pb::JobStatus::ReadyForPickup as i32);
    assert_eq!(deposited.locker_id, "C-07");
    assert!(deposited.collect_by.is_some(), "a locker keeps a parcel until a date");
    let wrong = c
        .hand_over(pb::HandOverRequest {
            store_id: LOCKER.into(),
            job_id: from_dc.into(),
            pickup_code: "not-the-code".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::InvalidArgument);
    c.hand_over(pb::HandOverRequest {
        store_id: LOCKER.into(),
        job_id: from_dc.into(),
        pickup_code: deposited.pickup_code.clone(),
    })
    .await
    .unwrap();
    let events = rig.announced(from_dc, |e| names(e).contains(&"collected")).await;
    assert_eq!(
        names(&events),
        vec!["requested", "shipped", "ready for pickup", "collected"]
    );
    let Event::ReadyForPickup(in_locker) = &events[2] else {
        unreachable!()
    };
    assert_eq!(in_locker.location_id, LOCKER);

    // From a store: its staff pack a parcel, the courier takes it to the locker bank;
    // nobody collects it and it goes back on sale at the store.
    let from_store = "web-14/1.0/store-kreuzberg";
    rig.request_to(
        from_store,
        STORE,
        "NODE_TYPE_STORE",
        orders::DeliveryMethod::Locker,
        LOCKER,
        "NODE_TYPE_LOCKER",
    )
    .await;
    assert_eq!(rig.job_at(STORE, from_store).await.kind, "ship_to_locker");
    c.accept_job(rig.r(STORE, from_store)).await.unwrap();
    c.pick_job(pick(STORE, from_store, 2, 1)).await.unwrap();
    let on_the_way = pack_label_ship(&rig, STORE, from_store).await;
    assert_eq!(on_the_way.status, pb::JobStatus::InTransitToLocker as i32);
    c.deposit_in_locker(pb::DepositInLockerRequest {
        store_id: LOCKER.into(),
        job_id: from_store.into(),
        locker_id: "C-08".into(),
    })
    .await
    .unwrap();
    rig.clock.advance(chrono::Duration::days(8));
    let events = rig.announced(from_store, |e| names(e).contains(&"cancelled")).await;
    let Some(Event::JobCancelled(expired)) = events.last() else {
        unreachable!()
    };
    assert!(expired.uncollected);
    assert_eq!(
        expired.returned_to_location_id, STORE,
        "the courier takes the parcel back to the store that sent it"
    );
    rig.stop().await;
}
