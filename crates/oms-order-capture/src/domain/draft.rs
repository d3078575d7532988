//! An order as a channel places it, and the rules a placed order must meet.

use chrono::{DateTime, Utc};
pub use oms_proto::kernel::{Address, Channel, DeliveryMethod, GeoPoint, Money, Priority, Tender, Violations};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub customer_id: String,
    pub name: String,
    pub email: String,
    pub phone: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftLine {
    pub line_id: String,
    pub sku: String,
    pub quantity: i64,
    pub unit_price: Money,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub reference: String,
    pub tender: Tender,
    pub authorised: Money,
}

/// Who placed the order: the customer, or an agent or store associate for them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacedBy {
    pub agent_id: String,
    pub store_id: String,
}

/// How the order reaches the customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub method: DeliveryMethod,
    /// For shipped methods.
    pub address: Option<Address>,
    /// For pickup methods: the store or locker.
    pub pickup_location: Option<String>,
}

impl Delivery {
    /// Every missing or wrong part: a shipped method needs an address, a pickup method a
    /// pickup location.
    pub fn check(&self, address_field: &str, bad: &mut Violations) {
        if self.method.is_shipped() {
            match &self.address {
                None => bad.add(
                    address_field,
                    format!("{} delivery needs a shipping address", self.method.label()),
                ),
                Some(address) => address.check(address_field, bad),
            }
        } else if self.pickup_location.as_deref().is_none_or(|p| p.trim().is_empty()) {
            let what = if self.method == DeliveryMethod::Locker {
                "a locker"
            } else {
                "a store"
            };
            bad.add(
                "pickup_location_id",
                format!("{} needs {what} to collect from", self.method.label()),
            );
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderDraft {
    pub channel: Channel,
    pub external_order_id: String,
    pub customer: Customer,
    pub lines: Vec<DraftLine>,
    pub currency: String,
    pub delivery: Delivery,
    pub payments: Vec<Payment>,
    pub priority: Priority,
    pub release_at: Option<DateTime<Utc>>,
    pub requested_delivery_at: Option<DateTime<Utc>>,
    pub placed_by: PlacedBy,
    pub shipping_fee: Option<Money>,
}

impl OrderDraft {
    /// The amount the customer pays: lines and shipping. `None` if it overflows.
    pub fn total_minor(&self) -> Option<i64> {
        let mut total: i64 = self.shipping_fee.as_ref().map_or(0, |f| f.amount_minor);
        for line in &self.lines {
            total = total.checked_add(line.unit_price.amount_minor.checked_mul(line.quantity)?)?;
        }
        Some(total)
    }

    /// Every bad field of the draft, named as in the API (`lines[2].quantity`).
    pub fn violations(&self, now: DateTime<Utc>) -> Violations {
        let mut bad = Violations::new();
        bad.require(&self.external_order_id, "external_order_id");
        bad.require(&self.customer.customer_id, "customer.customer_id");
        let currency = Money::new(0, self.currency.clone());
        let currency_ok = currency.has_currency_code();
        bad.check(!currency_ok, "currency", "must be an ISO 4217 code, e.g. EUR");
        self.check_lines(currency_ok, &mut bad);
        self.delivery.check("shipping_address", &mut bad);
        if let Some(fee) = &self.shipping_fee {
            bad.check(fee.amount_minor < 0, "shipping_fee", "cannot be negative");
            self.check_currency(currency_ok, fee, "shipping_fee.currency", &mut bad);
        }
        bad.check(
            self.total_minor().is_none() && !self.lines.is_empty(),
            "lines",
            "the order total is too large",
        );
        self.check_payments(currency_ok, &mut bad);
        bad.check(
            self.release_at.is_some_and(|r| r < now - chrono::Duration::days(1)),
            "release_at",
            "is in the past",
        );
        bad.check(
            self.placed_by.agent_id.trim().is_empty() && !self.placed_by.store_id.trim().is_empty(),
            "placed_by.agent_id",
            "a store placing an order names the associate",
        );
        bad
    }

    /// At least one line; each with a SKU, units, a price in the order's currency, an id
    /// of its own.
    fn check_lines(&self, currency_ok: bool, bad: &mut Violations) {
        bad.check(self.lines.is_empty(), "lines", "an order needs at least one line");
        let mut seen_ids = std::collections::HashSet::new();
        for (i, line) in self.lines.iter().enumerate() {
            bad.check(
                !line.line_id.is_empty() && !seen_ids.insert(line.line_id.as_str()),
                format!("lines[{i}].line_id"),
                format!("{} is used by another line", line.line_id),
            );
            bad.require(&line.sku, format!("lines[{i}].sku"));
            bad.check(line.quantity <= 0, format!("lines[{i}].quantity"), "must be 1 or more");
            bad.check(
                line.unit_price.amount_minor < 0,
                format!("lines[{i}].unit_price"),
                "cannot be negative",
            );
            self.check_currency(
                currency_ok,
                &line.unit_price,
                &format!("lines[{i}].unit_price.currency"),
                bad,
            );
            bad.check(
                line.quantity > 0 && line.unit_price.amount_minor.checked_mul(line.quantity).is_none(),
                format!("lines[{i}].unit_price"),
                "price times quantity is too large",
            );
        }
    }

    /// At least one payment, each with a reference and an amount in the order's currency,
    /// together covering the total.
    fn check_payments(&self, currency_ok: bool, bad: &mut Violations) {
        for (i, payment) in self.payments.iter().enumerate() {
            bad.require(&payment.reference, format!("payments[{i}].reference"));
            bad.check(
                payment.authorised.amount_minor <= 0,
                format!("payments[{i}].authorised"),
                "must be more than 0",
            );
            self.check_currency(
                currency_ok,
                &payment.authorised,
                &format!("payments[{i}].authorised.currency"),
                bad,
            );
        }
        if self.payments.is_empty() {
            bad.add("payments", "at least one authorised payment is required");
        } else if let Some(total) = self.total_minor() {
            let authorised = self
                .payments
                .iter()
                .try_fold(0i64, |sum, p| sum.checked_add(p.authorised.amount_minor));
            if let Some(authorised) = authorised.filter(|a| *a < total) {
                bad.add(
                    "payments",
                    format!("authorised {authorised} does not cover the order total of {total}"),
                );
            }
        }
    }

    /// `money` is in the order's currency (when that is a currency at all).
    fn check_currency(&self, currency_ok: bool, money: &Money, field: &str, bad: &mut Violations) {
        bad.check(
            currency_ok && money.currency != self.currency,
            field,
            format!("is {:?} but the order is in {}", money.currency, self.currency),
        );
    }
}
