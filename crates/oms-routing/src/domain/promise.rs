//! Dates a customer is promised: when a node ships (its cut-off), when a parcel arrives
//! (carrier transit), when a pickup is ready (handling time inside opening hours). Times
//! are the node's local time, kept as a fixed UTC offset. Transit days count every day;
//! carriers' weekend and holiday calendars are not modelled.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};

use super::{DeliveryMethod, Node, ShippingService};

/// Transit days assumed for standard shipping when a node names no standard carrier.
pub const DEFAULT_STANDARD_TRANSIT_DAYS: u32 = 3;
/// Local time a shipped parcel is expected by, on its delivery day.
const DELIVERED_BY: (u32, u32) = (18, 0);
/// Local time a same-day delivery is expected by.
const SAME_DAY_BY: (u32, u32) = (21, 0);

fn offset(node: &Node) -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(node.utc_offset_minutes * 60)
        .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("zero offset"))
}

/// The node's local date and minute of the day at `now`.
pub fn local(node: &Node, now: DateTime<Utc>) -> (NaiveDate, u32) {
    let local = now.with_timezone(&offset(node));
    let time = local.time();
    (local.date_naive(), time.hour_minute())
}

trait MinuteOfDay {
    fn hour_minute(&self) -> u32;
}

impl MinuteOfDay for NaiveTime {
    fn hour_minute(&self) -> u32 {
        use chrono::Timelike;
        self.hour() * 60 + self.minute()
    }
}

fn at_local(node: &Node, date: NaiveDate, minute: u32) -> DateTime<Utc> {
    let time = NaiveTime::from_hms_opt(minute / 60 % 24, minute % 60, 0).unwrap_or(NaiveTime::MIN);
    offset(node)
        .from_local_datetime(&date.and_time(time))
        .single()
        .map_or_else(|| date.and_time(time).and_utc(), |t| t.with_timezone(&Utc))
}

/// Whether an order routed at `now` still ships today: before the cut-off (or, without
/// one, before closing time).
pub fn before_cutoff(node: &Node, now: DateTime<Utc>) -> bool {
    let (_, minute) = local(node, now);
    if node.cutoff_minute > 0 {
        minute < node.cutoff_minute
    } else {
        node.closes_minute == 0 || minute < node.closes_minute
    }
}

/// The local date a parcel routed at `now` leaves the node.
pub fn ship_date(node: &Node, now: DateTime<Utc>) -> NaiveDate {
    let (today, _) = local(node, now);
    if before_cutoff(node, now) {
        today
    } else {
        today + Duration::days(1)
    }
}

/// When units routed at `now` are ready for pickup at `node`: after its handling time,
/// moved into its opening hours.
pub fn ready_by(node: &Node, now: DateTime<Utc>) -> DateTime<Utc> {
    let ready = now + Duration::hours(i64::from(node.handling_hours));
    let (date, minute) = local(node, ready);
    if node.closes_minute == 0 || node.closes_minute <= node.opens_minute {
        return ready;
    }
    if minute < node.opens_minute {
        at_local(node, date, node.opens_minute)
    } else if minute >= node.closes_minute {
        at_local(node, date + Duration::days(1), node.opens_minute)
    } else {
        ready
    }
}

/// Transit days of `service` from `node`: its cheapest carrier's, or for standard without
/// one, the default.
pub fn transit_days(node: &Node, service: ShippingService) -> Option<u32> {
    match (node.carrier(service), service) {
        (Some(carrier), _) => Some(carrier.transit_days),
        (None, ShippingService::Standard) => Some(DEFAULT_STANDARD_TRANSIT_DAYS),
        (None, _) => None,
    }
}

/// When the customer should have units that `node` fulfils by `method`, routed at `now`.
pub fn expected_at(node: &Node, method: DeliveryMethod, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let delivered = |days: u32| {
        let date = ship_date(node, now) + Duration::days(i64::from(days));
        at_local(node, date, DELIVERED_BY.0 * 60 + DELIVERED_BY.1)
    };
    match method {
        DeliveryMethod::Standard | DeliveryMethod::Locker | DeliveryMethod::ShipToStore => {
            transit_days(node, ShippingService::Standard).map(delivered)
        }
        DeliveryMethod::Express => transit_days(node, ShippingService::Express).map(delivered),
        DeliveryMethod::SameDay => {
            let (today, _) = local(node, now);
            before_cutoff(node, now).then(|| at_local(node, today, SAME_DAY_BY.0 * 60 + SAME_DAY_BY.1))
        }
        DeliveryMethod::ClickAndCollect | DeliveryMethod::Curbside => Some(ready_by(node, now)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Capabilities, Capacity, CarrierService, NodeType};

    fn store() -> Node {
        Node {
            node_id: "store".into(),
            node_type: NodeType::Store,
            name: String::new(),
            location: None,
            region: String::new(),
            groups: vec![],
            capabilities: Capabilities::default(),
            capacity: Capacity::default(),
            cutoff_minute: 14 * 60,
            opens_minute: 9 * 60,
            closes_minute: 20 * 60,
            utc_offset_minutes: 60,
            priority: 0,
            carriers: vec![CarrierService {
                carrier: "DHL".into(),
                service: ShippingService::Express,
                transit_days: 1,
                rate_minor: 990,
                currency: "EUR".into(),
            }],
            handling_hours: 2,
            active: true,
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn an_order_before_the_cutoff_ships_today_and_after_it_tomorrow() {
        let node = store();
        // 12:00 UTC is 13:00 at the store, before its 14:00 cut-off.
        assert_eq!(ship_date(&node, utc("2026-03-02T12:00:00Z")).to_string(), "2026-03-02");
        assert_eq!(ship_date(&node, utc("2026-03-02T13:30:00Z")).to_string(), "2026-03-03");
        assert_eq!(
            expected_at(&node, DeliveryMethod::Express, utc("2026-03-02T12:00:00Z")),
            Some(utc("2026-03-03T17:00:00Z"))
        );
        assert_eq!(
            expected_at(&node, DeliveryMethod::Standard, utc("2026-03-02T13:30:00Z")),
            Some(utc("2026-03-06T17:00:00Z")),
            "the default standard transit of three days, from tomorrow"
        );
    }

    #[test]
    fn a_pickup_is_ready_within_opening_hours() {
        let node = store();
        // 10:00 local + 2 h handling.
        assert_eq!(
            ready_by(&node, utc("2026-03-02T09:00:00Z")),
            utc("2026-03-02T11:00:00Z")
        );
        // 19:30 local + 2 h is after closing: ready at opening next morning.
        assert_eq!(
            ready_by(&node, utc("2026-03-02T18:30:00Z")),
            utc("2026-03-03T08:00:00Z")
        );
        // 05:00 local + 2 h is before opening.
        assert_eq!(
            ready_by(&node, utc("2026-03-02T04:00:00Z")),
            utc("2026-03-02T08:00:00Z")
        );
    }

    #[test]
    fn same_day_is_promised_only_before_the_cutoff() {
        let node = store();
        assert_eq!(
            expected_at(&node, DeliveryMethod::SameDay, utc("2026-03-02T12:00:00Z")),
            Some(utc("2026-03-02T20:00:00Z"))
        );
        assert_eq!(
            expected_at(&node, DeliveryMethod::SameDay, utc("2026-03-02T13:00:00Z")),
            None
        );
    }
}
