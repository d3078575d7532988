//! The customers of the day: the orders they place on every channel and delivery method,
//! and what they bring back to a store.

use std::collections::BTreeSet;

use oms_proto::common::v1 as common;
use oms_proto::orders::v1 as orders;
use oms_proto::returns::v1 as returns;
use rand::Rng;
use rand::rngs::StdRng;

use super::{Clients, Kpis};
use crate::seed::{CATALOGUE, LOCKER, STORES, sku};

/// The `i`th order of the day `run`: a random mix of channels, methods, SKUs and places.
pub(super) fn draft(rng: &mut StdRng, i: usize, run: u64) -> orders::OrderDraft {
    let method = match rng.random_range(0..100) {
        0..55 => orders::DeliveryMethod::Standard,
        55..65 => orders::DeliveryMethod::Express,
        65..85 => orders::DeliveryMethod::ClickAndCollect,
        85..92 => orders::DeliveryMethod::Curbside,
        92..96 => orders::DeliveryMethod::ShipToStore,
        _ => orders::DeliveryMethod::Locker,
    };
    let pickup = matches!(
        method,
        orders::DeliveryMethod::ClickAndCollect
            | orders::DeliveryMethod::Curbside
            | orders::DeliveryMethod::ShipToStore
            | orders::DeliveryMethod::Locker
    );
    let mut skus = BTreeSet::new();
    for _ in 0..rng.random_range(1..=3) {
        skus.insert(rng.random_range(0..CATALOGUE));
    }
    let lines: Vec<orders::OrderLine> = skus
        .iter()
        .enumerate()
        .map(|(n, s)| orders::OrderLine {
            line_id: (n + 1).to_string(),
            sku: sku(*s),
            quantity: rng.random_range(1..=2),
            unit_price: Some(common::Money {
                amount_minor: 1_000 + (*s as i64) * 250,
                currency: "EUR".into(),
            }),
            description: String::new(),
        })
        .collect();
    let total: i64 = lines
        .iter()
        .map(|l| l.quantity * l.unit_price.as_ref().map_or(0, |p| p.amount_minor))
        .sum();
    let channel = [orders::Channel::Web, orders::Channel::App, orders::Channel::Marketplace][i % 3];
    orders::OrderDraft {
        channel: channel as i32,
        external_order_id: format!("SIM-{run}-{i}"),
        customer: Some(orders::Customer {
            customer_id: format!("C-{}", rng.random_range(1..5_000)),
            name: "Sim Customer".into(),
            ..Default::default()
        }),
        lines,
        currency: "EUR".into(),
        delivery_method: method as i32,
        shipping_address: (!pickup).then(|| common::Address {
            name: "Sim Customer".into(),
            lines: vec![format!("Straße {}", i)],
            city: "Berlin".into(),
            region: "BE".into(),
            postal_code: "10117".into(),
            country: "DE".into(),
            location: Some(common::GeoPoint {
                latitude: rng.random_range(52.45..52.57),
                longitude: rng.random_range(13.30..13.50),
            }),
            ..Default::default()
        }),
        pickup_location_id: match (pickup, method) {
            (false, _) => String::new(),
            (true, orders::DeliveryMethod::Locker) => LOCKER.to_owned(),
            (true, _) => STORES[rng.random_range(0..2)].to_owned(),
        },
        payments: vec![orders::Payment {
            reference: format!("psp-{run}-{i}"),
            tender: orders::TenderType::Card as i32,
            authorised: Some(common::Money {
                amount_minor: total,
                currency: "EUR".into(),
            }),
        }],
        ..Default::default()
    }
}

/// The customer brings the first unit of the order back to a store.
pub(super) async fn return_in_store(c: &mut Clients, order_id: &str, kpis: &mut Kpis) -> anyhow::Result<()> {
    let order = c
        .orders
        .get_order(orders::GetOrderRequest {
            order_id: order_id.into(),
        })
        .await?
        .into_inner();
    let Some(line) = order.lines.first() else { return Ok(()) };
    let store = STORES[0];
    let started = c
        .returns
        .start_return(returns::StartReturnRequest {
            order_id: order_id.into(),
            lines: vec![returns::ReturnRequestLine {
                order_line_id: line.line_id.clone(),
                quantity: 1,
                reason_code: "changed-mind".into(),
            }],
            method: returns::ReturnMethod::InStore as i32,
            store_id: store.into(),
            requested_by: format!("store:{store}"),
            request_id: format!("sim-{order_id}"),
            ..Default::default()
        })
        .await?
        .into_inner();
    c.returns
        .receive_return(returns::ReceiveReturnRequest {
            return_id: started.return_id.clone(),
            location_id: store.into(),
            lines: vec![],
        })
        .await?;
    let inspected = c
        .returns
        .inspect_return(returns::InspectReturnRequest {
            return_id: started.return_id.clone(),
            lines: started
                .lines
                .iter()
                .map(|l| returns::InspectedLine {
                    order_line_id: l.order_line_id.clone(),
                    resellable: l.quantity,
                    damaged: 0,
                })
                .collect(),
        })
        .await?
        .into_inner();
    kpis.refunded_minor += inspected
        .refunds
        .iter()
        .filter_map(|r| r.amount.as_ref())
        .map(|m| m.amount_minor)
        .sum::<i64>();
    Ok(())
}
