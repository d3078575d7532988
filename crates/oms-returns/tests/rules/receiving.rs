//! The units arrive at a store or warehouse.

use crate::story::*;

#[test]
fn the_store_receives_every_unit_when_it_names_none_and_once() {
    let after = authorised(start(everything()))
        .when(ReceiveReturn {
            return_id: RETURN.into(),
            location_id: KREUZBERG.into(),
            lines: Vec::new(),
        })
        .then([on_return(ReturnsEvent::Received {
            location_id: KREUZBERG.into(),
            lines: vec![LineUnits::new("1", 2), LineUnits::new("2", 1)],
            at: now(),
        })])
        .when(ReceiveReturn {
            return_id: RETURN.into(),
            location_id: KREUZBERG.into(),
            lines: Vec::new(),
        })
        .then_nothing()
        .when(ReceiveReturn {
            return_id: RETURN.into(),
            location_id: "dc-berlin".into(),
            lines: Vec::new(),
        })
        .then_error(ReturnsError::NotNow {
            return_id: RETURN.into(),
            status: ReturnStatus::Received,
            step: "receive it",
        });
    let ret = the_return(&after);
    assert_eq!(
        (ret.status, ret.location_id.as_str()),
        (ReturnStatus::Received, KREUZBERG)
    );
}

#[test]
fn part_of_a_return_arrives() {
    let after = authorised(start(everything()))
        .when(ReceiveReturn {
            return_id: RETURN.into(),
            location_id: KREUZBERG.into(),
            lines: vec![LineUnits::new("1", 1)],
        })
        .then([on_return(ReturnsEvent::Received {
            location_id: KREUZBERG.into(),
            lines: vec![LineUnits::new("1", 1)],
            at: now(),
        })]);
    let received: Vec<i64> = the_return(&after).lines.iter().map(|l| l.received).collect();
    assert_eq!(received, [1, 0]);
}

#[test]
fn a_receipt_names_where_and_no_more_than_was_authorised() {
    authorised(start(everything()))
        .when(ReceiveReturn {
            return_id: RETURN.into(),
            location_id: " ".into(),
            lines: vec![LineUnits::new("9", 1), LineUnits::new("1", 3)],
        })
        .then_refused(|e| fields(e) == ["location_id", "lines[0].order_line_id", "lines[1].quantity"])
        .when(ReceiveReturn {
            return_id: "RET-9".into(),
            location_id: KREUZBERG.into(),
            lines: Vec::new(),
        })
        .then_error(ReturnsError::UnknownReturn("RET-9".into()));
}
