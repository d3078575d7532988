//! The order's lifecycle, given/when/then: given what happened to an order, when customer
//! service or another service acts on it, then these events (or this refusal).

use chrono::{DateTime, Duration, Utc};
use oms_eventsourcing::testing::{Scenario, Then};
use oms_eventsourcing::{Change, Decide};
use oms_order_capture::domain::{
    Address, CancelOrder, ChangeDelivery, ChangeShippingAddress, Channel, Customer, Delivery, DeliveryMethod,
    DraftLine, GeoPoint, HoldOrder, LineQuantity, Money, Order, OrderCommand, OrderDraft, OrderError, OrderEvent,
    OrderStatus, Orders, Payment, PlaceOrder, PlacedBy, Priority, RecordReports, ReleaseOrder, Tender, order_stream,
};

/// The service's scenario harness, told about one order (`o-1`): its events are recorded
/// on the order's stream, its commands are for that order, and each outcome is the order.
struct OrderStory(Scenario<Orders>);

struct OrderTold(Then<Orders, OrderError>);

const ORDER: &str = "o-1";

fn on_order(events: impl IntoIterator<Item = OrderEvent>) -> Vec<Change<OrderEvent>> {
    events
        .into_iter()
        .map(|e| Change::new(order_stream(ORDER), e))
        .collect()
}

impl OrderStory {
    fn given(events: impl IntoIterator<Item = OrderEvent>) -> Self {
        Self(Scenario::given(on_order(events)))
    }

    fn nothing() -> Self {
        Self(Scenario::nothing())
    }

    fn when(self, command: impl Decide<Orders, Refusal = OrderError>) -> OrderTold {
        OrderTold(self.0.when(command))
    }
}

impl OrderTold {
    #[track_caller]
    fn then(self, expected: impl IntoIterator<Item = OrderEvent>) -> Order {
        the_order(self.0.then(on_order(expected)))
    }

    #[track_caller]
    fn then_nothing(self) -> Order {
        the_order(self.0.then_nothing())
    }

    #[track_caller]
    fn then_refused(self, check: impl FnOnce(&OrderError) -> bool) -> OrderError {
        let mut refusal = None;
        self.0.then_refused(|e| {
            refusal = Some(e.clone());
            check(e)
        });
        refusal.expect("a refusal")
    }

    #[track_caller]
    fn then_error(self, expected: OrderError) -> OrderError {
        self.then_refused(|e| e == &expected)
    }
}

fn the_order(scenario: Scenario<Orders>) -> Order {
    scenario.state().for_decision(ORDER)
}

fn t(minutes: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z").unwrap().to_utc() + Duration::minutes(minutes)
}

fn address() -> Address {
    Address {
        name: "Ada Lovelace".into(),
        lines: vec!["Unter den Linden 1".into()],
        city: "Berlin".into(),
        postal_code: "10117".into(),
        country: "DE".into(),
        location: Some(GeoPoint {
            latitude: 52.517,
            longitude: 13.389,
        }),
        ..Address::default()
    }
}

fn line(sku: &str, quantity: i64, price: i64) -> DraftLine {
    DraftLine {
        line_id: String::new(),
        sku: sku.into(),
        quantity,
        unit_price: Money::new(price, "EUR"),
        description: String::new(),
    }
}

fn draft(lines: Vec<DraftLine>, method: DeliveryMethod) -> OrderDraft {
    let shipped = method.is_shipped();
    let total: i64 = lines
        .iter()
        .map(|l| l.quantity.saturating_mul(l.unit_price.amount_minor))
        .fold(0, i64::saturating_add);
    OrderDraft {
        channel: Channel::Web,
        external_order_id: "W-1001".into(),
        customer: Customer {
            customer_id: "C-42".into(),
            name: "Ada".into(),
            email: "ada@example.com".into(),
            phone: String::new(),
        },
        lines,
        currency: "EUR".into(),
        delivery: Delivery {
            method,
            address: shipped.then(address),
            pickup_location: (!shipped).then(|| "STORE-BERLIN".to_owned()),
        },
        payments: vec![Payment {
            reference: "psp-1".into(),
            tender: Tender::Card,
            authorised: Money::new(total, "EUR"),
        }],
        priority: Priority::Normal,
        release_at: None,
        requested_delivery_at: None,
        placed_by: PlacedBy::default(),
        shipping_fee: None,
    }
}

fn two_line_order() -> OrderDraft {
    draft(
        vec![line("SKU-1", 2, 1_000), line("SKU-2", 1, 2_500)],
        DeliveryMethod::Standard,
    )
}

fn placed(draft: OrderDraft) -> OrderEvent {
    let mut numbered = draft;
    for (i, l) in numbered.lines.iter_mut().enumerate() {
        if l.line_id.is_empty() {
            l.line_id = (i + 1).to_string();
        }
    }
    OrderEvent::Placed {
        order_id: "o-1".into(),
        draft: Box::new(numbered),
        at: t(0),
    }
}

fn units(lines: &[(&str, i64)]) -> Vec<LineQuantity> {
    lines.iter().map(|(id, q)| LineQuantity::new(*id, *q)).collect()
}

fn allocated(request: &str, lines: &[(&str, i64)]) -> OrderEvent {
    OrderEvent::Allocated {
        request_id: request.into(),
        node_id: "STORE-BERLIN".into(),
        lines: units(lines),
        expected_at: Some(t(60 * 24)),
        at: t(1),
    }
}

fn shipped(job: &str, lines: &[(&str, i64)], tracking: &str) -> OrderEvent {
    OrderEvent::Shipped {
        job_id: job.into(),
        lines: units(lines),
        carrier: "DHL".into(),
        tracking_number: tracking.into(),
        at: t(30),
    }
}

#[test]
fn a_valid_order_is_placed_with_its_lines_numbered() {
    let order = OrderStory::nothing()
        .when(PlaceOrder {
            order_id: "o-1".into(),
            draft: Box::new(two_line_order()),
            at: t(0),
        })
        .then([placed(two_line_order())]);
    assert_eq!(order.status(), OrderStatus::Placed);
    assert_eq!(
        order.lines.iter().map(|l| l.line_id.as_str()).collect::<Vec<_>>(),
        vec!["1", "2"]
    );
    assert_eq!(order.total(), Some(Money::new(4_500, "EUR")));
}

#[test]
fn the_same_channel_order_placed_again_changes_nothing() {
    OrderStory::given([placed(two_line_order())])
        .when(PlaceOrder {
            order_id: "o-1".into(),
            draft: Box::new(two_line_order()),
            at: t(5),
        })
        .then_nothing();
}

#[test]
fn an_order_with_mistakes_is_refused_naming_every_one_of_them() {
    let mut bad = draft(
        vec![line("SKU-1", 0, 1_000), line("", 1, -5), line("SKU-3", 1, 100)],
        DeliveryMethod::Standard,
    );
    bad.lines[2].unit_price.currency = "USD".into();
    bad.delivery.address = None;
    bad.customer.customer_id.clear();
    let error = OrderStory::nothing()
        .when(PlaceOrder {
            order_id: "o-1".into(),
            draft: Box::new(bad),
            at: t(0),
        })
        .then_refused(|e| matches!(e, OrderError::Invalid(_)));
    let OrderError::Invalid(fields) = error else {
        unreachable!()
    };
    let names: Vec<&str> = fields.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "customer.customer_id",
            "lines[0].quantity",
            "lines[1].sku",
            "lines[1].unit_price",
            "lines[2].unit_price.currency",
            "shipping_address",
        ]
    );
}

#[test]
fn a_pickup_order_needs_a_store_and_an_empty_order_is_no_order() {
    let mut pickup = draft(vec![], DeliveryMethod::ClickAndCollect);
    pickup.delivery.pickup_location = None;
    let error = OrderStory::nothing()
        .when(PlaceOrder {
            order_id: "o-1".into(),
            draft: Box::new(pickup),
            at: t(0),
        })
        .then_refused(|_| true);
    assert_eq!(
        error.to_string(),
        "lines: an order needs at least one line; pickup_location_id: click & collect needs a store to collect from; \
         payments: authorised 0 does not cover the order total of 0"
            .replace(
                "payments: authorised 0 does not cover the order total of 0",
                "payments[0].authorised: must be more than 0"
            )
    );
}

#[test]
fn a_price_that_overflows_is_refused() {
    let huge = draft(vec![line("SKU-1", 3, i64::MAX / 2)], DeliveryMethod::Standard);
    let error = OrderStory::nothing()
        .when(PlaceOrder {
            order_id: "o-1".into(),
            draft: Box::new(huge),
            at: t(0),
        })
        .then_refused(|_| true);
    assert!(
        error
            .to_string()
            .contains("lines[0].unit_price: price times quantity is too large"),
        "{error}"
    );
}

#[test]
fn a_shipped_order_goes_from_routed_to_delivered() {
    let order = OrderStory::given([
        placed(two_line_order()),
        allocated("fr-1", &[("1", 2), ("2", 1)]),
        OrderEvent::FulfilmentStarted {
            job_id: "fr-1".into(),
            lines: units(&[("1", 2), ("2", 1)]),
            at: t(5),
        },
        shipped("fr-1", &[("1", 2)], "TRACK-1"),
    ])
    .when(RecordReports::one(
        ORDER,
        OrderEvent::Shipped {
            job_id: "fr-1".into(),
            lines: units(&[("2", 1)]),
            carrier: "DHL".into(),
            tracking_number: "TRACK-2".into(),
            at: t(40),
        },
    ))
    .then([OrderEvent::Shipped {
        job_id: "fr-1".into(),
        lines: units(&[("2", 1)]),
        carrier: "DHL".into(),
        tracking_number: "TRACK-2".into(),
        at: t(40),
    }]);
    assert_eq!(order.status(), OrderStatus::Shipped);
    let statuses: Vec<OrderStatus> = order.timeline.iter().map(|c| c.status).collect();
    assert_eq!(
        statuses,
        vec![
            OrderStatus::Placed,
            OrderStatus::Routed,
            OrderStatus::InFulfilment,
            OrderStatus::PartiallyShipped,
            OrderStatus::Shipped
        ]
    );
    assert_eq!(order.tracking_numbers, vec!["TRACK-1", "TRACK-2"]);
    assert_eq!(order.expected_at(), Some(t(60 * 24)));
    let mut delivered = order;
    delivered.evolve(&OrderEvent::Delivered {
        job_id: "fr-1".into(),
        lines: units(&[("1", 2), ("2", 1)]),
        at: t(60),
    });
    assert_eq!(delivered.status(), OrderStatus::Delivered);
}

#[test]
fn a_click_and_collect_order_is_ready_then_collected() {
    let pickup = draft(vec![line("SKU-1", 1, 1_000)], DeliveryMethod::ClickAndCollect);
    let ready = OrderEvent::ReadyForPickup {
        job_id: "fr-1".into(),
        lines: units(&[("1", 1)]),
        location_id: "STORE-BERLIN".into(),
        pickup_code: "4711".into(),
        at: t(20),
    };
    let order = OrderStory::given([placed(pickup), allocated("fr-1", &[("1", 1)]), ready])
        .when(RecordReports::one(
            ORDER,
            OrderEvent::Collected {
                job_id: "fr-1".into(),
                lines: units(&[("1", 1)]),
                at: t(90),
            },
        ))
        .then([OrderEvent::Collected {
            job_id: "fr-1".into(),
            lines: units(&[("1", 1)]),
            at: t(90),
        }]);
    assert_eq!(order.status(), OrderStatus::Collected);
    assert_eq!(order.pickup, Some(("STORE-BERLIN".into(), "4711".into())));
}

/// The statuses of an order's timeline, in order.
fn timeline(order: &Order) -> Vec<OrderStatus> {
    order.timeline.iter().map(|c| c.status).collect()
}

#[test]
fn a_ship_to_store_parcel_is_shipped_then_ready_with_its_code_then_collected() {
    let pickup = draft(vec![line("SKU-1", 2, 1_000)], DeliveryMethod::ShipToStore);
    let ready = OrderEvent::ReadyForPickup {
        job_id: "fr-1".into(),
        lines: units(&[("1", 2)]),
        location_id: "STORE-BERLIN".into(),
        pickup_code: "4711".into(),
        at: t(60),
    };
    let on_the_way = OrderStory::given([placed(pickup.clone()), allocated("fr-1", &[("1", 2)])])
        .when(RecordReports::one(
            ORDER,
            OrderEvent::Shipped {
                job_id: "fr-1".into(),
                lines: units(&[("1", 2)]),
                carrier: "DHL".into(),
                tracking_number: "JJD1".into(),
                at: t(30),
            },
        ))
        .then([shipped("fr-1", &[("1", 2)], "JJD1")]);
    // On its way to the store: shipped, not yet something the customer can return or
    // that customer service can still cancel.
    assert_eq!(on_the_way.status(), OrderStatus::Shipped);
    assert_eq!(on_the_way.lines[0].to_pickup, 2);
    assert_eq!(on_the_way.lines[0].returnable(), 0);
    assert_eq!(on_the_way.lines[0].cancellable(), 0);
    let detail = &on_the_way.timeline.last().expect("a timeline").detail;
    assert!(detail.contains("STORE-BERLIN") && detail.contains("pickup"), "{detail}");

    let history = [
        placed(pickup),
        allocated("fr-1", &[("1", 2)]),
        shipped("fr-1", &[("1", 2)], "JJD1"),
        ready,
    ];
    // The parcel arrived: the customer is told where and with which code.
    let arrived = Order::from_events(&history);
    assert_eq!(arrived.status(), OrderStatus::ReadyForPickup);
    assert_eq!(arrived.pickup, Some(("STORE-BERLIN".into(), "4711".into())));
    let detail = &arrived.timeline.last().expect("a timeline").detail;
    assert!(detail.contains("STORE-BERLIN") && detail.contains("4711"), "{detail}");
    let collected = OrderStory::given(history)
        .when(RecordReports::one(
            ORDER,
            OrderEvent::Collected {
                job_id: "fr-1".into(),
                lines: units(&[("1", 2)]),
                at: t(90),
            },
        ))
        .then([OrderEvent::Collected {
            job_id: "fr-1".into(),
            lines: units(&[("1", 2)]),
            at: t(90),
        }]);
    assert_eq!(collected.status(), OrderStatus::Collected);
    assert_eq!(
        timeline(&collected),
        [
            OrderStatus::Placed,
            OrderStatus::Routed,
            OrderStatus::Shipped,
            OrderStatus::ReadyForPickup,
            OrderStatus::Collected
        ]
    );
    // Collected once, returnable once: the shipment to the store is not a second delivery.
    assert_eq!(collected.lines[0].returnable(), 2);
}

#[test]
fn a_locker_parcel_nobody_collects_is_cancelled_when_it_expires() {
    let mut locker = draft(vec![line("SKU-1", 1, 1_000)], DeliveryMethod::Locker);
    locker.delivery.pickup_location = Some("LOCKER-HBF".into());
    let ready = OrderEvent::ReadyForPickup {
        job_id: "fr-1".into(),
        lines: units(&[("1", 1)]),
        location_id: "LOCKER-HBF".into(),
        pickup_code: "0815".into(),
        at: t(60),
    };
    let order = OrderStory::given([
        placed(locker),
        allocated("fr-1", &[("1", 1)]),
        shipped("fr-1", &[("1", 1)], "JJD2"),
        ready,
    ])
    .when(RecordReports::one(
        ORDER,
        OrderEvent::PickupExpired {
            job_id: "fr-1".into(),
            lines: units(&[("1", 1)]),
            at: t(60 * 24 * 8),
        },
    ))
    .then([OrderEvent::PickupExpired {
        job_id: "fr-1".into(),
        lines: units(&[("1", 1)]),
        at: t(60 * 24 * 8),
    }]);
    assert_eq!(order.status(), OrderStatus::Cancelled);
    assert_eq!(order.lines[0].ready_for_pickup, 0);
    assert_eq!(
        timeline(&order),
        [
            OrderStatus::Placed,
            OrderStatus::Routed,
            OrderStatus::Shipped,
            OrderStatus::ReadyForPickup,
            OrderStatus::Cancelled
        ]
    );
}

#[test]
fn a_whole_order_cancelled_before_shipping_is_cancelled() {
    let order = OrderStory::given([placed(two_line_order()), allocated("fr-1", &[("1", 2), ("2", 1)])])
        .when(CancelOrder {
            order_id: ORDER.into(),
            lines: vec![],
            reason: "customer changed their mind".into(),
            by: "agent-7".into(),
            at: t(10),
        })
        .then([OrderEvent::Cancelled {
            lines: units(&[("1", 2), ("2", 1)]),
            reason: "customer changed their mind".into(),
            by: "agent-7".into(),
            whole_order: true,
            at: t(10),
        }]);
    assert_eq!(order.status(), OrderStatus::Cancelled);
}

#[test]
fn after_a_partial_shipment_only_what_is_left_can_be_cancelled() {
    let given = [
        placed(two_line_order()),
        allocated("fr-1", &[("1", 2), ("2", 1)]),
        shipped("fr-1", &[("1", 2)], "T-1"),
    ];
    let order = OrderStory::given(given.clone())
        .when(CancelOrder {
            order_id: ORDER.into(),
            lines: vec![],
            reason: "out of patience".into(),
            by: String::new(),
            at: t(40),
        })
        .then([OrderEvent::Cancelled {
            lines: units(&[("2", 1)]),
            reason: "out of patience".into(),
            by: String::new(),
            whole_order: false,
            at: t(40),
        }]);
    assert_eq!(
        order.status(),
        OrderStatus::Shipped,
        "what is left of the order has shipped"
    );
    let refusal = OrderStory::given(given)
        .when(CancelOrder {
            order_id: ORDER.into(),
            lines: units(&[("1", 1)]),
            reason: String::new(),
            by: String::new(),
            at: t(40),
        })
        .then_refused(|_| true);
    assert_eq!(
        refusal.to_string(),
        "cancelling is not possible: line 1 has 0 unit(s) left to cancel (2 shipped or collected), not 1"
    );
}

#[test]
fn a_fully_shipped_order_cannot_be_cancelled_or_held() {
    let given = [
        placed(two_line_order()),
        allocated("fr-1", &[("1", 2), ("2", 1)]),
        shipped("fr-1", &[("1", 2), ("2", 1)], "T-1"),
    ];
    OrderStory::given(given.clone())
        .when(CancelOrder {
            order_id: ORDER.into(),
            lines: vec![],
            reason: String::new(),
            by: String::new(),
            at: t(50),
        })
        .then_error(OrderError::NotNow {
            what: "cancelling",
            why: "the order is shipped".into(),
        });
    OrderStory::given(given)
        .when(HoldOrder {
            order_id: ORDER.into(),
            reason: "fraud check".into(),
            by: "agent-1".into(),
            at: t(50),
        })
        .then_error(OrderError::NotNow {
            what: "holding",
            why: "the order is shipped".into(),
        });
}

#[test]
fn the_address_changes_before_shipping_and_not_after() {
    let mut moved = address();
    moved.city = "Potsdam".into();
    moved.postal_code = "14467".into();
    let order = OrderStory::given([placed(two_line_order())])
        .when(ChangeShippingAddress {
            order_id: ORDER.into(),
            address: moved.clone(),
            by: "agent-1".into(),
            at: t(3),
        })
        .then([OrderEvent::ShippingAddressChanged {
            address: moved.clone(),
            by: "agent-1".into(),
            at: t(3),
        }]);
    assert_eq!(order.draft.unwrap().delivery.address.unwrap().city, "Potsdam");
    OrderStory::given([
        placed(two_line_order()),
        allocated("fr-1", &[("1", 2)]),
        shipped("fr-1", &[("1", 1)], "T"),
    ])
    .when(ChangeShippingAddress {
        order_id: ORDER.into(),
        address: moved.clone(),
        by: String::new(),
        at: t(40),
    })
    .then_error(OrderError::NotNow {
        what: "changing the address",
        why: "part of the order has already shipped or is waiting for pickup".into(),
    });
    let mut broken = moved;
    broken.country = "Germany".into();
    OrderStory::given([placed(two_line_order())])
        .when(ChangeShippingAddress {
            order_id: ORDER.into(),
            address: broken,
            by: String::new(),
            at: t(3),
        })
        .then_error(OrderError::invalid(
            "address.country",
            "must be an ISO 3166-1 alpha-2 code, e.g. DE",
        ));
}

#[test]
fn the_delivery_method_changes_from_shipping_to_pickup() {
    let pickup = Delivery {
        method: DeliveryMethod::Curbside,
        address: None,
        pickup_location: Some("STORE-POTSDAM".into()),
    };
    let order = OrderStory::given([placed(two_line_order())])
        .when(ChangeDelivery {
            order_id: ORDER.into(),
            delivery: pickup.clone(),
            by: "agent-1".into(),
            at: t(3),
        })
        .then([OrderEvent::DeliveryChanged {
            delivery: pickup,
            by: "agent-1".into(),
            at: t(3),
        }]);
    assert_eq!(order.draft.unwrap().delivery.method, DeliveryMethod::Curbside);
    let no_store = Delivery {
        method: DeliveryMethod::Locker,
        address: None,
        pickup_location: None,
    };
    OrderStory::given([placed(two_line_order())])
        .when(ChangeDelivery {
            order_id: ORDER.into(),
            delivery: no_store,
            by: String::new(),
            at: t(3),
        })
        .then_error(OrderError::invalid(
            "pickup_location_id",
            "locker needs a locker to collect from",
        ));
}

#[test]
fn a_held_order_shows_held_until_released() {
    let held = OrderEvent::Held {
        reason: "address check".into(),
        by: "agent-1".into(),
        at: t(2),
    };
    let order = OrderStory::given([placed(two_line_order())])
        .when(HoldOrder {
            order_id: ORDER.into(),
            reason: "address check".into(),
            by: "agent-1".into(),
            at: t(2),
        })
        .then([held.clone()]);
    assert_eq!(order.status(), OrderStatus::Held);
    let released = OrderStory::given([placed(two_line_order()), held])
        .when(ReleaseOrder {
            order_id: ORDER.into(),
            by: "agent-2".into(),
            at: t(9),
        })
        .then([OrderEvent::Released {
            by: "agent-2".into(),
            at: t(9),
        }]);
    assert_eq!(released.status(), OrderStatus::Placed);
    OrderStory::given([placed(two_line_order())])
        .when(ReleaseOrder {
            order_id: ORDER.into(),
            by: String::new(),
            at: t(9),
        })
        .then_error(OrderError::NotNow {
            what: "releasing",
            why: "the order is not held".into(),
        });
    OrderStory::given([placed(two_line_order())])
        .when(HoldOrder {
            order_id: ORDER.into(),
            reason: " ".into(),
            by: String::new(),
            at: t(2),
        })
        .then_error(OrderError::invalid("reason", "a hold needs a reason"));
}

#[test]
fn a_backordered_line_is_routed_when_supply_arrives() {
    let order = OrderStory::given([
        placed(two_line_order()),
        allocated("fr-1", &[("2", 1)]),
        OrderEvent::Backordered {
            lines: units(&[("1", 2)]),
            reason: "no stock anywhere".into(),
            at: t(1),
        },
    ])
    .when(RecordReports::one(
        ORDER,
        OrderEvent::Allocated {
            request_id: "fr-2".into(),
            node_id: "DC-1".into(),
            lines: units(&[("1", 2)]),
            expected_at: None,
            at: t(600),
        },
    ))
    .then([OrderEvent::Allocated {
        request_id: "fr-2".into(),
        node_id: "DC-1".into(),
        lines: units(&[("1", 2)]),
        expected_at: None,
        at: t(600),
    }]);
    assert_eq!(order.status(), OrderStatus::Routed);
    assert_eq!(order.line("1").unwrap().backordered, 0);
    let statuses: Vec<OrderStatus> = order.timeline.iter().map(|c| c.status).collect();
    assert_eq!(
        statuses,
        vec![OrderStatus::Placed, OrderStatus::Backordered, OrderStatus::Routed]
    );
}

#[test]
fn a_job_a_store_rejects_leaves_its_units_waiting_for_routing_again() {
    let order = OrderStory::given([placed(two_line_order()), allocated("fr-1", &[("1", 2), ("2", 1)])])
        .when(RecordReports::one(
            ORDER,
            OrderEvent::FulfilmentDropped {
                job_id: "fr-1".into(),
                lines: units(&[("1", 2), ("2", 1)]),
                reason: "out of stock".into(),
                at: t(15),
            },
        ))
        .then([OrderEvent::FulfilmentDropped {
            job_id: "fr-1".into(),
            lines: units(&[("1", 2), ("2", 1)]),
            reason: "out of stock".into(),
            at: t(15),
        }]);
    assert_eq!(order.status(), OrderStatus::Placed);
    assert!(order.allocations.is_empty());
}

#[test]
fn a_return_ends_refunded() {
    let mut order = Order::from_events(&[
        placed(two_line_order()),
        allocated("fr-1", &[("1", 2), ("2", 1)]),
        shipped("fr-1", &[("1", 2), ("2", 1)], "T"),
        OrderEvent::Delivered {
            job_id: "fr-1".into(),
            lines: units(&[("1", 2), ("2", 1)]),
            at: t(100),
        },
    ]);
    let requested = RecordReports::one(
        ORDER,
        OrderEvent::ReturnRequested {
            return_id: "rt-1".into(),
            lines: units(&[("1", 2), ("2", 1)]),
            at: t(200),
        },
    )
    .rule(&order)
    .unwrap();
    order.evolve(&requested[0]);
    assert_eq!(order.status(), OrderStatus::ReturnRequested);
    let returned = RecordReports::one(
        ORDER,
        OrderEvent::Returned {
            return_id: "rt-1".into(),
            lines: units(&[("1", 2), ("2", 1)]),
            at: t(300),
        },
    )
    .rule(&order)
    .unwrap();
    order.evolve(&returned[0]);
    assert_eq!(order.status(), OrderStatus::Returned);
    let refunded = RecordReports::one(
        ORDER,
        OrderEvent::Refunded {
            return_id: "rt-1".into(),
            amount_minor: 4_500,
            at: t(310),
        },
    )
    .rule(&order)
    .unwrap();
    order.evolve(&refunded[0]);
    assert_eq!(order.status(), OrderStatus::Refunded);
}

#[test]
fn a_report_made_twice_counts_once_and_an_unknown_line_is_refused() {
    let given = [
        placed(two_line_order()),
        allocated("fr-1", &[("1", 2), ("2", 1)]),
        shipped("fr-1", &[("1", 2)], "T-1"),
    ];
    OrderStory::given(given.clone())
        .when(RecordReports::one(
            ORDER,
            OrderEvent::Shipped {
                job_id: "fr-1".into(),
                lines: units(&[("1", 2)]),
                carrier: "DHL".into(),
                tracking_number: "T-1".into(),
                at: t(31),
            },
        ))
        .then_nothing();
    OrderStory::given(given)
        .when(RecordReports::one(
            ORDER,
            OrderEvent::Shipped {
                job_id: "fr-2".into(),
                lines: units(&[("9", 1)]),
                carrier: "DHL".into(),
                tracking_number: "T-2".into(),
                at: t(31),
            },
        ))
        .then_error(OrderError::UnknownLine {
            order_id: "o-1".into(),
            line_id: "9".into(),
        });
    OrderStory::nothing()
        .when(RecordReports::one(
            ORDER,
            OrderEvent::Shipped {
                job_id: "j".into(),
                lines: vec![],
                carrier: String::new(),
                tracking_number: String::new(),
                at: t(1),
            },
        ))
        .then_error(OrderError::UnknownOrder("o-1".into()));
}
