//! The ledger's master data: the locations that hold stock, what each channel may promise,
//! the SKUs it knows and the safety stock kept back at a position. Setting a value to what
//! it already is changes nothing.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use oms_eventsourcing::{Change, Changes, Decide};

use super::{Ledger, UnknownSkus};
use crate::domain::events::{ChannelRuleTerms, LocationDetails};
use crate::domain::{
    ChannelRule, LedgerError, LedgerEvent, LocationId, LocationRecord, Sku, Violations, channel_stream,
    location_stream, position_stream, sku_stream,
};

/// Keep `quantity` units of a position back from what it promises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetSafetyStock {
    pub sku: Sku,
    pub location: LocationId,
    pub quantity: i64,
    pub unknown_skus: UnknownSkus,
}

impl Decide<Ledger> for SetSafetyStock {
    type Refusal = LedgerError;

    fn decide(&self, ledger: &Ledger, _now: DateTime<Utc>) -> Result<Changes<LedgerEvent>, LedgerError> {
        let mut bad = Violations::new();
        bad.require(self.sku.as_str(), "sku");
        bad.check(self.quantity < 0, "quantity", "cannot be negative");
        bad.require(self.location.as_str(), "location_id");
        bad.or_ok(()).map_err(LedgerError::Invalid)?;
        ledger.check_location(&self.location, false)?;
        ledger.check_sku(&self.sku, self.unknown_skus)?;
        if ledger
            .position(self.sku.as_str(), self.location.as_str())
            .is_some_and(|p| p.safety_stock == self.quantity)
        {
            return Ok(Vec::new());
        }
        Ok(vec![Change::new(
            position_stream(self.location.as_str(), self.sku.as_str()),
            LedgerEvent::SafetyStockSet {
                sku: self.sku.clone(),
                location: self.location.clone(),
                quantity: self.quantity,
            },
        )])
    }
}

/// Add a location, or change one.
#[derive(Debug, Clone, PartialEq)]
pub struct UpsertLocation {
    pub location: LocationRecord,
}

impl Decide<Ledger> for UpsertLocation {
    type Refusal = LedgerError;

    fn decide(&self, ledger: &Ledger, _now: DateTime<Utc>) -> Result<Changes<LedgerEvent>, LedgerError> {
        let location = &self.location;
        let mut bad = Violations::new();
        bad.require(location.location_id.as_str(), "location_id");
        if let Some(point) = &location.location {
            // The contract carries a location's point in its address.
            point.check("address.location", &mut bad);
        }
        bad.or_ok(()).map_err(LedgerError::Invalid)?;
        if ledger.locations.get(&location.location_id) == Some(location) {
            return Ok(Vec::new());
        }
        Ok(vec![Change::new(
            location_stream(location.location_id.as_str()),
            LedgerEvent::LocationUpserted {
                location: LocationDetails::from(location),
            },
        )])
    }
}

/// Set what a channel may promise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetChannelRule {
    pub rule: ChannelRule,
}

impl Decide<Ledger> for SetChannelRule {
    type Refusal = LedgerError;

    fn decide(&self, ledger: &Ledger, _now: DateTime<Utc>) -> Result<Changes<LedgerEvent>, LedgerError> {
        let rule = &self.rule;
        let mut bad = Violations::new();
        bad.require(&rule.channel, "channel");
        bad.check(rule.holdback_units < 0, "holdback_units", "cannot be negative");
        bad.check(
            !(1..=100).contains(&rule.share_percent),
            "share_percent",
            "must be between 1 and 100",
        );
        bad.or_ok(()).map_err(LedgerError::Invalid)?;
        if ledger.channel_rules.get(&rule.channel) == Some(rule) {
            return Ok(Vec::new());
        }
        Ok(vec![Change::new(
            channel_stream(&rule.channel),
            LedgerEvent::ChannelRuleSet {
                rule: ChannelRuleTerms::from(rule),
            },
        )])
    }
}

/// Make SKUs known (needed before their stock moves when unknown SKUs are refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterSkus {
    pub skus: Vec<Sku>,
}

impl Decide<Ledger> for RegisterSkus {
    type Refusal = LedgerError;

    fn decide(&self, ledger: &Ledger, _now: DateTime<Utc>) -> Result<Changes<LedgerEvent>, LedgerError> {
        let mut bad = Violations::new();
        for (i, sku) in self.skus.iter().enumerate() {
            bad.check(sku.as_str().trim().is_empty(), format!("skus[{i}]"), "is empty");
        }
        bad.or_ok(()).map_err(LedgerError::Invalid)?;
        let new: BTreeSet<&Sku> = self.skus.iter().filter(|s| !ledger.skus.contains(*s)).collect();
        Ok(new
            .into_iter()
            .map(|sku| {
                Change::new(
                    sku_stream(sku.as_str()),
                    LedgerEvent::SkuRegistered { sku: sku.clone() },
                )
            })
            .collect())
    }
}
