//! Translations between the protobuf contracts and the domain.

use oms_proto::common::v1 as common;
use oms_proto::orders::v1 as pb;
use oms_service::convert::{time, timestamp};

use crate::domain::order::StatusChange;
use crate::domain::{
    Address, Channel, Customer, Delivery, DeliveryMethod, DraftLine, LineQuantity, LineState, Money, Order, OrderDraft,
    OrderStatus, Payment, PlacedBy, Priority, Tender,
};

pub type Violations = Vec<(String, String)>;

pub fn channel(value: i32) -> Option<Channel> {
    match pb::Channel::try_from(value).ok()? {
        pb::Channel::Web => Some(Channel::Web),
        pb::Channel::App => Some(Channel::App),
        pb::Channel::Marketplace => Some(Channel::Marketplace),
        pb::Channel::Store => Some(Channel::Store),
        pb::Channel::CallCentre => Some(Channel::CallCentre),
        pb::Channel::Unspecified => None,
    }
}

pub fn channel_pb(channel: Channel) -> pb::Channel {
    match channel {
        Channel::Web => pb::Channel::Web,
        Channel::App => pb::Channel::App,
        Channel::Marketplace => pb::Channel::Marketplace,
        Channel::Store => pb::Channel::Store,
        Channel::CallCentre => pb::Channel::CallCentre,
    }
}

pub fn delivery_method(value: i32) -> Option<DeliveryMethod> {
    match pb::DeliveryMethod::try_from(value).ok()? {
        pb::DeliveryMethod::Standard => Some(DeliveryMethod::Standard),
        pb::DeliveryMethod::Express => Some(DeliveryMethod::Express),
        pb::DeliveryMethod::SameDay => Some(DeliveryMethod::SameDay),
        pb::DeliveryMethod::ClickAndCollect => Some(DeliveryMethod::ClickAndCollect),
        pb::DeliveryMethod::Curbside => Some(DeliveryMethod::Curbside),
        pb::DeliveryMethod::Locker => Some(DeliveryMethod::Locker),
        pb::DeliveryMethod::ShipToStore => Some(DeliveryMethod::ShipToStore),
        pb::DeliveryMethod::Unspecified => None,
    }
}

pub fn delivery_method_pb(method: DeliveryMethod) -> pb::DeliveryMethod {
    match method {
        DeliveryMethod::Standard => pb::DeliveryMethod::Standard,
        DeliveryMethod::Express => pb::DeliveryMethod::Express,
        DeliveryMethod::SameDay => pb::DeliveryMethod::SameDay,
        DeliveryMethod::ClickAndCollect => pb::DeliveryMethod::ClickAndCollect,
        DeliveryMethod::Curbside => pb::DeliveryMethod::Curbside,
        DeliveryMethod::Locker => pb::DeliveryMethod::Locker,
        DeliveryMethod::ShipToStore => pb::DeliveryMethod::ShipToStore,
    }
}

fn tender(value: i32) -> Option<Tender> {
    match pb::TenderType::try_from(value).ok()? {
        pb::TenderType::Card => Some(Tender::Card),
        pb::TenderType::Paypal => Some(Tender::PayPal),
        pb::TenderType::GiftCard => Some(Tender::GiftCard),
        pb::TenderType::StoreCredit => Some(Tender::StoreCredit),
        pb::TenderType::Invoice => Some(Tender::Invoice),
        pb::TenderType::CashOnDelivery => Some(Tender::CashOnDelivery),
        pb::TenderType::Unspecified => None,
    }
}

fn tender_pb(tender: Tender) -> pb::TenderType {
    match tender {
        Tender::Card => pb::TenderType::Card,
        Tender::PayPal => pb::TenderType::Paypal,
        Tender::GiftCard => pb::TenderType::GiftCard,
        Tender::StoreCredit => pb::TenderType::StoreCredit,
        Tender::Invoice => pb::TenderType::Invoice,
        Tender::CashOnDelivery => pb::TenderType::CashOnDelivery,
    }
}

pub fn status_pb(status: OrderStatus) -> pb::OrderStatus {
    match status {
        OrderStatus::Placed => pb::OrderStatus::Placed,
        OrderStatus::Held => pb::OrderStatus::Held,
        OrderStatus::Routed => pb::OrderStatus::Routed,
        OrderStatus::Backordered => pb::OrderStatus::Backordered,
        OrderStatus::InFulfilment => pb::OrderStatus::InFulfilment,
        OrderStatus::PartiallyShipped => pb::OrderStatus::PartiallyShipped,
        OrderStatus::Shipped => pb::OrderStatus::Shipped,
        OrderStatus::ReadyForPickup => pb::OrderStatus::ReadyForPickup,
        OrderStatus::Collected => pb::OrderStatus::Collected,
        OrderStatus::Delivered => pb::OrderStatus::Delivered,
        OrderStatus::Cancelled => pb::OrderStatus::Cancelled,
        OrderStatus::ReturnRequested => pb::OrderStatus::ReturnRequested,
        OrderStatus::Returned => pb::OrderStatus::Returned,
        OrderStatus::Refunded => pb::OrderStatus::Refunded,
    }
}

pub fn status(value: i32) -> Option<OrderStatus> {
    let all = [
        OrderStatus::Placed,
        OrderStatus::Held,
        OrderStatus::Routed,
        OrderStatus::Backordered,
        OrderStatus::InFulfilment,
        OrderStatus::PartiallyShipped,
        OrderStatus::Shipped,
        OrderStatus::ReadyForPickup,
        OrderStatus::Collected,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::ReturnRequested,
        OrderStatus::Returned,
        OrderStatus::Refunded,
    ];
    all.into_iter().find(|s| status_pb(*s) as i32 == value)
}

fn money(value: Option<&common::Money>) -> Option<Money> {
    value.map(|m| Money::new(m.amount_minor, m.currency.clone()))
}

pub fn money_pb(money: &Money) -> common::Money {
    common::Money {
        amount_minor: money.amount_minor,
        currency: money.currency.clone(),
    }
}

pub fn address(a: &common::Address) -> Address {
    Address {
        name: a.name.clone(),
        lines: a.lines.clone(),
        city: a.city.clone(),
        region: a.region.clone(),
        postal_code: a.postal_code.clone(),
        country: a.country.clone(),
        phone: a.phone.clone(),
        email: a.email.clone(),
        latitude: a.location.as_ref().map(|g| g.latitude),
        longitude: a.location.as_ref().map(|g| g.longitude),
    }
}

pub fn address_pb(a: &Address) -> common::Address {
    let location = match (a.latitude, a.longitude) {
        (Some(latitude), Some(longitude)) => Some(common::GeoPoint { latitude, longitude }),
        _ => None,
    };
    common::Address {
        name: a.name.clone(),
        lines: a.lines.clone(),
        city: a.city.clone(),
        region: a.region.clone(),
        postal_code: a.postal_code.clone(),
        country: a.country.clone(),
        phone: a.phone.clone(),
        email: a.email.clone(),
        location,
    }
}

/// The delivery of a request: what can be read of it, and what cannot.
pub fn delivery(
    method: i32,
    shipping: Option<&common::Address>,
    pickup: &str,
    bad: &mut Violations,
) -> Option<Delivery> {
    let Some(method) = delivery_method(method) else {
        bad.push((
            "delivery_method".to_owned(),
            "must be STANDARD, EXPRESS, SAME_DAY, CLICK_AND_COLLECT, CURBSIDE, LOCKER or SHIP_TO_STORE".to_owned(),
        ));
        return None;
    };
    Some(Delivery {
        method,
        address: if method.is_shipped() {
            shipping.map(address)
        } else {
            None
        },
        pickup_location: if method.is_shipped() || pickup.is_empty() {
            None
        } else {
            Some(pickup.to_owned())
        },
    })
}

/// A draft as the domain sees it, or every field that cannot even be read (unknown enum
/// values, missing prices). The domain then checks the rest.
pub fn draft(d: &pb::OrderDraft) -> Result<OrderDraft, Violations> {
    let mut bad = Violations::new();
    let channel = channel(d.channel);
    if channel.is_none() {
        bad.push((
            "channel".to_owned(),
            "must be WEB, APP, MARKETPLACE, STORE or CALL_CENTRE".to_owned(),
        ));
    }
    let delivery = delivery(
        d.delivery_method,
        d.shipping_address.as_ref(),
        &d.pickup_location_id,
        &mut bad,
    );
    let mut lines = Vec::with_capacity(d.lines.len());
    for (i, line) in d.lines.iter().enumerate() {
        let Some(unit_price) = money(line.unit_price.as_ref()) else {
            bad.push((format!("lines[{i}].unit_price"), "is required".to_owned()));
            continue;
        };
        lines.push(DraftLine {
            line_id: line.line_id.clone(),
            sku: line.sku.clone(),
            quantity: line.quantity,
            unit_price,
            description: line.description.clone(),
        });
    }
    let mut payments = Vec::with_capacity(d.payments.len());
    for (i, payment) in d.payments.iter().enumerate() {
        let tender = tender(payment.tender);
        if tender.is_none() {
            bad.push((format!("payments[{i}].tender"), "is required".to_owned()));
        }
        let authorised = money(payment.authorised.as_ref());
        if authorised.is_none() {
            bad.push((format!("payments[{i}].authorised"), "is required".to_owned()));
        }
        if let (Some(tender), Some(authorised)) = (tender, authorised) {
            payments.push(Payment {
                reference: payment.reference.clone(),
                tender,
                authorised,
            });
        }
    }
    let priority = match pb::Priority::try_from(d.priority) {
        Ok(pb::Priority::High) => Priority::High,
        Ok(pb::Priority::Urgent) => Priority::Urgent,
        Ok(_) => Priority::Normal,
        Err(_) => {
            bad.push(("priority".to_owned(), "must be NORMAL, HIGH or URGENT".to_owned()));
            Priority::Normal
        }
    };
    let release_at = d.release_at.as_ref().map(|ts| time(ts).ok_or(())).transpose();
    if release_at.is_err() {
        bad.push(("release_at".to_owned(), "is not a valid time".to_owned()));
    }
    let requested = d
        .requested_delivery_at
        .as_ref()
        .map(|ts| time(ts).ok_or(()))
        .transpose();
    if requested.is_err() {
        bad.push(("requested_delivery_at".to_owned(), "is not a valid time".to_owned()));
    }
    match (channel, delivery) {
        (Some(channel), Some(delivery)) if bad.is_empty() => {
            let customer = d.customer.clone().unwrap_or_default();
            let placed_by = d.placed_by.clone().unwrap_or_default();
            Ok(OrderDraft {
                channel,
                external_order_id: d.external_order_id.clone(),
                customer: Customer {
                    customer_id: customer.customer_id,
                    name: customer.name,
                    email: customer.email,
                    phone: customer.phone,
                },
                lines,
                currency: d.currency.clone(),
                delivery,
                payments,
                priority,
                release_at: release_at.ok().flatten(),
                requested_delivery_at: requested.ok().flatten(),
                placed_by: PlacedBy {
                    agent_id: placed_by.agent_id,
                    store_id: placed_by.store_id,
                },
                shipping_fee: money(d.shipping_fee.as_ref()),
            })
        }
        _ => Err(bad),
    }
}

pub fn draft_pb(d: &OrderDraft) -> pb::OrderDraft {
    pb::OrderDraft {
        channel: channel_pb(d.channel) as i32,
        external_order_id: d.external_order_id.clone(),
        customer: Some(pb::Customer {
            customer_id: d.customer.customer_id.clone(),
            name: d.customer.name.clone(),
            email: d.customer.email.clone(),
            phone: d.customer.phone.clone(),
        }),
        lines: d
            .lines
            .iter()
            .map(|l| pb::OrderLine {
                line_id: l.line_id.clone(),
                sku: l.sku.clone(),
                quantity: l.quantity,
                unit_price: Some(money_pb(&l.unit_price)),
                description: l.description.clone(),
            })
            .collect(),
        currency: d.currency.clone(),
        delivery_method: delivery_method_pb(d.delivery.method) as i32,
        shipping_address: d.delivery.address.as_ref().map(address_pb),
        pickup_location_id: d.delivery.pickup_location.clone().unwrap_or_default(),
        payments: d
            .payments
            .iter()
            .map(|p| pb::Payment {
                reference: p.reference.clone(),
                tender: tender_pb(p.tender) as i32,
                authorised: Some(money_pb(&p.authorised)),
            })
            .collect(),
        priority: match d.priority {
            Priority::Normal => pb::Priority::Normal,
            Priority::High => pb::Priority::High,
            Priority::Urgent => pb::Priority::Urgent,
        } as i32,
        release_at: d.release_at.map(timestamp),
        requested_delivery_at: d.requested_delivery_at.map(timestamp),
        placed_by: Some(pb::PlacedBy {
            agent_id: d.placed_by.agent_id.clone(),
            store_id: d.placed_by.store_id.clone(),
        }),
        shipping_fee: d.shipping_fee.as_ref().map(money_pb),
    }
}

pub fn line_state_pb(l: &LineState, currency: &str) -> pb::LineState {
    pb::LineState {
        line_id: l.line_id.clone(),
        sku: l.sku.clone(),
        ordered: l.ordered,
        cancelled: l.cancelled,
        allocated: l.allocated,
        backordered: l.backordered,
        shipped: l.shipped,
        in_transit_to_pickup: l.to_pickup,
        ready_for_pickup: l.ready_for_pickup,
        collected: l.collected,
        delivered: l.delivered,
        return_requested: l.return_requested,
        returned: l.returned,
        status: status_pb(l.status()) as i32,
        unit_price: Some(common::Money {
            amount_minor: l.unit_price,
            currency: currency.to_owned(),
        }),
    }
}

pub fn order_pb(order: &Order) -> pb::Order {
    let currency = order.draft.as_ref().map(|d| d.currency.clone()).unwrap_or_default();
    pb::Order {
        order_id: order.order_id.clone(),
        draft: order.draft.as_ref().map(draft_pb),
        status: status_pb(order.status()) as i32,
        hold_reason: order.hold.as_ref().map(|h| h.reason.clone()).unwrap_or_default(),
        lines: order.lines.iter().map(|l| line_state_pb(l, &currency)).collect(),
        total: order.total().as_ref().map(money_pb),
        refunded: Some(common::Money {
            amount_minor: order.refunded_minor,
            currency,
        }),
        placed_at: order.placed_at.map(timestamp),
        updated_at: order.updated_at.map(timestamp),
        expected_at: order.expected_at().map(timestamp),
    }
}

pub fn status_change_pb(change: &StatusChange) -> pb::StatusChange {
    pb::StatusChange {
        status: status_pb(change.status) as i32,
        at: Some(timestamp(change.at)),
        detail: change.detail.clone(),
    }
}

pub fn line_quantities(lines: &[pb::LineQuantity]) -> Vec<LineQuantity> {
    lines
        .iter()
        .map(|l| LineQuantity::new(l.line_id.clone(), l.quantity))
        .collect()
}
