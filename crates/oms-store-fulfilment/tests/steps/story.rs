//! The job's story told in the retailer's words: the places, what routing asks of them,
//! the events a job records and the commands staff, nodes and routing give.

pub use std::sync::Arc;

pub use chrono::{DateTime, Duration, Utc};
pub use oms_eventsourcing::Change;
pub use oms_eventsourcing::testing::{Scenario, scenario_time};
pub use oms_store_fulfilment::carriers::Carriers;
pub use oms_store_fulfilment::domain::{
    AcceptJob, Address, ConfirmedLine, CreateJob, DeliveryMethod, DepositInLocker, Fulfilment, FulfilmentError,
    HandOver, JobCreated, JobEvent, JobKind, JobRef, JobStatus, LabelJob, LineUnits, LocationId, MarkReadyForPickup,
    NodeAccepted, NodeCancelled, NodeShipped, NodeType, PackJob, PickJob, Priority, ReceiveParcel,
    RecordCustomerArrival, RejectJob, RejectReason, RequestedLine, ShipJob, SweepDeadlines, WithdrawJob, job_stream,
};

pub const JOB: &str = "o-1/1";
pub const KREUZBERG: &str = "store-kreuzberg";
pub const MITTE: &str = "store-mitte";
pub const WAREHOUSE: &str = "dc-berlin";
pub const LOCKER_BANK: &str = "locker-hauptbahnhof";

pub fn now() -> DateTime<Utc> {
    scenario_time()
}

pub fn accept_within() -> Duration {
    Duration::minutes(60)
}

pub fn collect_within() -> Duration {
    Duration::days(7)
}

/// What routing asks of `node` (of `node_type`) for a job of `kind`: two jackets and a
/// scarf of order o-1, promised for Thursday evening.
pub fn asked(
    node: &str,
    node_type: NodeType,
    kind: JobKind,
    delivery_method: DeliveryMethod,
    pickup_at: &str,
) -> JobCreated {
    JobCreated {
        job_id: JOB.into(),
        order_id: "o-1".into(),
        node_id: node.into(),
        node_type,
        kind,
        lines: vec![
            RequestedLine {
                line_id: "1".into(),
                sku: "jacket-m".into(),
                units: 2,
            },
            RequestedLine {
                line_id: "2".into(),
                sku: "scarf".into(),
                units: 1,
            },
        ],
        delivery_method,
        ship_to: (kind == JobKind::Ship || node_type == NodeType::Warehouse).then(|| Address {
            name: "Ada Lovelace".into(),
            lines: vec!["Unter den Linden 1".into()],
            city: "Berlin".into(),
            postal_code: "10117".into(),
            country: "DE".into(),
            ..Address::default()
        }),
        pickup_store_id: pickup_at.into(),
        customer_name: "Ada".into(),
        priority: Priority::Normal,
        promised_at: Some(now() + Duration::days(2)),
        accept_by: None,
        reservation_id: JOB.into(),
        at: now(),
    }
}

pub fn ship_from_kreuzberg() -> JobCreated {
    asked(KREUZBERG, NodeType::Store, JobKind::Ship, DeliveryMethod::Standard, "")
}

pub fn click_and_collect_at_kreuzberg() -> JobCreated {
    asked(
        KREUZBERG,
        NodeType::Store,
        JobKind::Pickup,
        DeliveryMethod::ClickAndCollect,
        "",
    )
}

pub fn curbside_at_kreuzberg() -> JobCreated {
    asked(
        KREUZBERG,
        NodeType::Store,
        JobKind::Curbside,
        DeliveryMethod::Curbside,
        "",
    )
}

pub fn locker_at_kreuzberg() -> JobCreated {
    asked(KREUZBERG, NodeType::Store, JobKind::Locker, DeliveryMethod::Locker, "")
}

pub fn kreuzberg_ships_to_mitte() -> JobCreated {
    asked(
        KREUZBERG,
        NodeType::Store,
        JobKind::ShipToStore,
        DeliveryMethod::ClickAndCollect,
        MITTE,
    )
}

pub fn warehouse_ships_to_the_customer() -> JobCreated {
    asked(
        WAREHOUSE,
        NodeType::Warehouse,
        JobKind::External,
        DeliveryMethod::Standard,
        "",
    )
}

pub fn warehouse_ships_to_the_locker_bank() -> JobCreated {
    asked(
        WAREHOUSE,
        NodeType::Warehouse,
        JobKind::ShipToLocker,
        DeliveryMethod::Locker,
        LOCKER_BANK,
    )
}

/// The job as created: staff have an hour to accept it; a node's own system has no
/// deadline here.
pub fn created(asked: JobCreated) -> Change<JobEvent> {
    let staff = asked.node_type == NodeType::Store;
    let accept_by = staff.then(|| asked.at + accept_within());
    job(JobEvent::Created(Box::new(JobCreated { accept_by, ..asked })))
}

pub fn job(event: JobEvent) -> Change<JobEvent> {
    Change::new(job_stream(JOB), event)
}

pub fn at(store: &str) -> JobRef {
    JobRef::new(store, JOB)
}

pub fn accepted() -> Change<JobEvent> {
    job(JobEvent::Accepted { at: now() })
}

pub fn units(jackets: i64, scarves: i64) -> Vec<LineUnits> {
    vec![LineUnits::new("1", jackets), LineUnits::new("2", scarves)]
}

pub fn picked(jackets: i64, scarves: i64) -> Change<JobEvent> {
    job(JobEvent::Picked {
        lines: units(jackets, scarves),
        at: now(),
    })
}

pub fn packed() -> Change<JobEvent> {
    job(JobEvent::Packed {
        packages: 1,
        weight_grams: 1_800,
        at: now(),
    })
}

pub fn labelled() -> Change<JobEvent> {
    job(JobEvent::Labelled {
        carrier: "dpd".into(),
        service: "standard".into(),
        tracking_number: "DPD000000000001".into(),
        label: "^XA^XZ".into(),
        at: now(),
    })
}

pub fn shipped() -> Change<JobEvent> {
    job(JobEvent::Shipped { at: now() })
}

pub fn ready(pickup_code: &str, locker_id: &str) -> Change<JobEvent> {
    job(JobEvent::ReadyForPickup {
        pickup_code: pickup_code.into(),
        locker_id: locker_id.into(),
        collect_by: now() + collect_within(),
        at: now(),
    })
}

pub fn rejected(reason: RejectReason) -> Change<JobEvent> {
    job(JobEvent::Rejected { reason, at: now() })
}

pub fn node_shipped(jackets: i64, scarves: i64) -> Change<JobEvent> {
    job(JobEvent::NodeShipped {
        carrier: "dhl".into(),
        tracking_number: "JJD1".into(),
        lines: units(jackets, scarves),
        at: now(),
    })
}

pub fn create(asked: JobCreated) -> CreateJob {
    CreateJob {
        job: asked,
        accept_within: accept_within(),
    }
}

pub fn accept(store: &str) -> AcceptJob {
    AcceptJob { job: at(store) }
}

pub fn pick(store: &str, jackets: i64, scarves: i64) -> PickJob {
    PickJob {
        job: at(store),
        lines: units(jackets, scarves),
    }
}

pub fn pack(store: &str, weights: &[u32]) -> PackJob {
    PackJob {
        job: at(store),
        package_weights_grams: weights.to_vec(),
    }
}

pub fn label(store: &str) -> LabelJob {
    LabelJob {
        job: at(store),
        carriers: Arc::new(Carriers::default()),
    }
}

pub fn ship(store: &str) -> ShipJob {
    ShipJob { job: at(store) }
}

pub fn mark_ready(store: &str, pickup_code: &str) -> MarkReadyForPickup {
    MarkReadyForPickup {
        job: at(store),
        pickup_code: pickup_code.into(),
        collect_within: collect_within(),
    }
}

pub fn deposit(place: &str, locker_id: &str, pickup_code: &str) -> DepositInLocker {
    DepositInLocker {
        job: at(place),
        locker_id: locker_id.into(),
        pickup_code: pickup_code.into(),
        collect_within: collect_within(),
    }
}

pub fn hand_over(place: &str, pickup_code: &str) -> HandOver {
    HandOver {
        job: at(place),
        pickup_code: pickup_code.into(),
    }
}

pub fn receive_parcel(store: &str, pickup_code: &str) -> ReceiveParcel {
    ReceiveParcel {
        job: at(store),
        pickup_code: pickup_code.into(),
        collect_within: collect_within(),
    }
}

pub fn confirmed(order_line_id: &str, sku: &str, units: i64) -> ConfirmedLine {
    ConfirmedLine {
        order_line_id: order_line_id.into(),
        sku: sku.into(),
        units,
    }
}

pub fn node_ships(lines: Vec<ConfirmedLine>) -> NodeShipped {
    NodeShipped {
        job_id: JOB.into(),
        carrier: "dhl".into(),
        tracking_number: "JJD1".into(),
        lines,
        at: now(),
    }
}

pub fn status(scenario: &Scenario<Fulfilment>) -> JobStatus {
    scenario.state().job(JOB).map(|j| j.status).expect("the job")
}

pub fn not_now(status: &'static str, step: &'static str) -> FulfilmentError {
    FulfilmentError::NotNow {
        job_id: JOB.into(),
        status,
        step,
    }
}

pub fn invalid_fields(refusal: &FulfilmentError) -> Vec<String> {
    match refusal {
        FulfilmentError::Invalid(violations) => violations.iter().map(|v| v.field.clone()).collect(),
        _ => Vec::new(),
    }
}

pub fn reject(store: &str, reason: RejectReason) -> RejectJob {
    RejectJob { job: at(store), reason }
}
