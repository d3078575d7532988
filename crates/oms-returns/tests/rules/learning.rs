//! What returns learns from order capture and fulfilment: each fact once.

use crate::story::*;

#[test]
fn an_order_announced_twice_is_learnt_once() {
    let after = Scenario::<Returns>::nothing()
        .when(LearnOrder { order: sold() })
        .then([learnt(sold())])
        .when(LearnOrder { order: sold() })
        .then_nothing();
    assert_eq!(
        after
            .state()
            .order(ORDER)
            .map(oms_returns::domain::SoldOrder::paid_minor),
        Some(18_000)
    );
}

#[test]
fn a_delivery_counts_once_by_order_line_or_by_sku() {
    let delivery = || RecordDelivery {
        order_id: ORDER.into(),
        job_id: "fr-1".into(),
        lines: vec![
            DeliveredLine {
                order_line_id: "1".into(),
                sku: "jacket-m".into(),
                units: 2,
            },
            // The node left the line out: the order's line of the SKU.
            DeliveredLine {
                order_line_id: LineId::default(),
                sku: "scarf".into(),
                units: 1,
            },
            // Not the order's.
            DeliveredLine {
                order_line_id: LineId::default(),
                sku: "socks".into(),
                units: 1,
            },
        ],
        at: now(),
    };
    let after = Scenario::<Returns>::given([learnt(sold())])
        .when(delivery())
        .then([Change::new(
            order_stream(ORDER),
            ReturnsEvent::Delivered {
                job_id: "fr-1".into(),
                lines: vec![LineUnits::new("1", 2), LineUnits::new("2", 1)],
                at: now(),
            },
        )])
        .when(delivery())
        .then_nothing();
    let delivered: Vec<i64> = after
        .state()
        .order(ORDER)
        .map(|o| o.lines.iter().map(|l| l.delivered).collect())
        .unwrap_or_default();
    assert_eq!(delivered, [2, 1]);
    Scenario::<Returns>::nothing()
        .when(delivery())
        .then_error(ReturnsError::UnknownOrder(ORDER.into()));
}
