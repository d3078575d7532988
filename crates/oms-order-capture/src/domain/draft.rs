//! An order as a channel places it, and its validation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Channel {
    Web,
    App,
    Marketplace,
    Store,
    CallCentre,
}

impl Channel {
    pub fn code(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::App => "app",
            Channel::Marketplace => "marketplace",
            Channel::Store => "store",
            Channel::CallCentre => "call-centre",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeliveryMethod {
    Standard,
    Express,
    SameDay,
    ClickAndCollect,
    Curbside,
    Locker,
    ShipToStore,
}

impl DeliveryMethod {
    /// Shipped to an address (not picked up).
    pub fn is_shipped(self) -> bool {
        matches!(
            self,
            DeliveryMethod::Standard | DeliveryMethod::Express | DeliveryMethod::SameDay
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            DeliveryMethod::Standard => "standard",
            DeliveryMethod::Express => "express",
            DeliveryMethod::SameDay => "same-day",
            DeliveryMethod::ClickAndCollect => "click & collect",
            DeliveryMethod::Curbside => "curbside",
            DeliveryMethod::Locker => "locker",
            DeliveryMethod::ShipToStore => "ship-to-store",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Tender {
    Card,
    PayPal,
    GiftCard,
    StoreCredit,
    Invoice,
    CashOnDelivery,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Priority {
    #[default]
    Normal,
    High,
    Urgent,
}

/// An amount in a currency's minor unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: String,
}

impl Money {
    pub fn new(amount_minor: i64, currency: impl Into<String>) -> Self {
        Self {
            amount_minor,
            currency: currency.into(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub name: String,
    pub lines: Vec<String>,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub country: String,
    pub phone: String,
    pub email: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

impl Address {
    /// Every missing or wrong part, under `field`.
    pub fn violations(&self, field: &str) -> Vec<(String, String)> {
        let mut bad = Vec::new();
        if self.lines.iter().all(|l| l.trim().is_empty()) {
            bad.push((
                format!("{field}.lines"),
                "at least one address line is required".to_owned(),
            ));
        }
        if self.city.trim().is_empty() {
            bad.push((format!("{field}.city"), "is required".to_owned()));
        }
        if self.postal_code.trim().is_empty() {
            bad.push((format!("{field}.postal_code"), "is required".to_owned()));
        }
        if self.country.len() != 2 || !self.country.chars().all(|c| c.is_ascii_uppercase()) {
            bad.push((
                format!("{field}.country"),
                "must be an ISO 3166-1 alpha-2 code, e.g. DE".to_owned(),
            ));
        }
        if self.latitude.is_some_and(|l| !(-90.0..=90.0).contains(&l)) {
            bad.push((
                format!("{field}.location.latitude"),
                "must be between -90 and 90".to_owned(),
            ));
        }
        if self.longitude.is_some_and(|l| !(-180.0..=180.0).contains(&l)) {
            bad.push((
                format!("{field}.location.longitude"),
                "must be between -180 and 180".to_owned(),
            ));
        }
        bad
    }
}

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
    pub fn violations(&self, address_field: &str) -> Vec<(String, String)> {
        let mut bad = Vec::new();
        if self.method.is_shipped() {
            match &self.address {
                None => bad.push((
                    address_field.to_owned(),
                    format!("{} delivery needs a shipping address", self.method.name()),
                )),
                Some(address) => bad.extend(address.violations(address_field)),
            }
        } else if self.pickup_location.as_deref().is_none_or(|p| p.trim().is_empty()) {
            let what = if self.method == DeliveryMethod::Locker {
                "a locker"
            } else {
                "a store"
            };
            bad.push((
                "pickup_location_id".to_owned(),
                format!("{} needs {what} to collect from", self.method.name()),
            ));
        }
        bad
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
    pub fn violations(&self, now: DateTime<Utc>) -> Vec<(String, String)> {
        let mut bad = Vec::new();
        if self.external_order_id.trim().is_empty() {
            bad.push(("external_order_id".to_owned(), "is required".to_owned()));
        }
        if self.customer.customer_id.trim().is_empty() {
            bad.push(("customer.customer_id".to_owned(), "is required".to_owned()));
        }
        let currency_ok = self.currency.len() == 3 && self.currency.chars().all(|c| c.is_ascii_uppercase());
        if !currency_ok {
            bad.push(("currency".to_owned(), "must be an ISO 4217 code, e.g. EUR".to_owned()));
        }
        if self.lines.is_empty() {
            bad.push(("lines".to_owned(), "an order needs at least one line".to_owned()));
        }
        let mut seen_ids = std::collections::HashSet::new();
        for (i, line) in self.lines.iter().enumerate() {
            if !line.line_id.is_empty() && !seen_ids.insert(line.line_id.as_str()) {
                bad.push((
                    format!("lines[{i}].line_id"),
                    format!("{} is used by another line", line.line_id),
                ));
            }
            if line.sku.trim().is_empty() {
                bad.push((format!("lines[{i}].sku"), "is required".to_owned()));
            }
            if line.quantity <= 0 {
                bad.push((format!("lines[{i}].quantity"), "must be 1 or more".to_owned()));
            }
            if line.unit_price.amount_minor < 0 {
                bad.push((format!("lines[{i}].unit_price"), "cannot be negative".to_owned()));
            }
            if currency_ok && line.unit_price.currency != self.currency {
                bad.push((
                    format!("lines[{i}].unit_price.currency"),
                    format!(
                        "is {:?} but the order is in {}",
                        line.unit_price.currency, self.currency
                    ),
                ));
            }
            if line.quantity > 0 && line.unit_price.amount_minor.checked_mul(line.quantity).is_none() {
                bad.push((
                    format!("lines[{i}].unit_price"),
                    "price times quantity is too large".to_owned(),
                ));
            }
        }
        bad.extend(self.delivery.violations("shipping_address"));
        if let Some(fee) = &self.shipping_fee {
            if fee.amount_minor < 0 {
                bad.push(("shipping_fee".to_owned(), "cannot be negative".to_owned()));
            }
            if currency_ok && fee.currency != self.currency {
                bad.push((
                    "shipping_fee.currency".to_owned(),
                    format!("is {:?} but the order is in {}", fee.currency, self.currency),
                ));
            }
        }
        let total = self.total_minor();
        if total.is_none() && !self.lines.is_empty() {
            bad.push(("lines".to_owned(), "the order total is too large".to_owned()));
        }
        for (i, payment) in self.payments.iter().enumerate() {
            if payment.reference.trim().is_empty() {
                bad.push((format!("payments[{i}].reference"), "is required".to_owned()));
            }
            if payment.authorised.amount_minor <= 0 {
                bad.push((format!("payments[{i}].authorised"), "must be more than 0".to_owned()));
            }
            if currency_ok && payment.authorised.currency != self.currency {
                bad.push((
                    format!("payments[{i}].authorised.currency"),
                    format!(
                        "is {:?} but the order is in {}",
                        payment.authorised.currency, self.currency
                    ),
                ));
            }
        }
        if self.payments.is_empty() {
            bad.push((
                "payments".to_owned(),
                "at least one authorised payment is required".to_owned(),
            ));
        } else if let Some(total) = total {
            let authorised = self
                .payments
                .iter()
                .try_fold(0i64, |sum, p| sum.checked_add(p.authorised.amount_minor));
            if authorised.is_some_and(|a| a < total) {
                bad.push((
                    "payments".to_owned(),
                    format!(
                        "authorised {} does not cover the order total of {total}",
                        authorised.unwrap_or(0)
                    ),
                ));
            }
        }
        if self.release_at.is_some_and(|r| r < now - chrono::Duration::days(1)) {
            bad.push(("release_at".to_owned(), "is in the past".to_owned()));
        }
        if self.placed_by.agent_id.trim().is_empty() && !self.placed_by.store_id.trim().is_empty() {
            bad.push((
                "placed_by.agent_id".to_owned(),
                "a store placing an order names the associate".to_owned(),
            ));
        }
        bad
    }
}
