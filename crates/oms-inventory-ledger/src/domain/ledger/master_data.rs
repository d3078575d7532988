//! The ledger's master data: the locations that hold stock, what each channel may promise,
//! the SKUs it knows and the safety stock kept back at a position. Setting a value to what
//! it already is changes nothing.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use oms_eventsourcing::{Change, Changes, Decide};

use super::{Ledger, UnknownSkus};
use crate::domain::events::{ChannelRuleTerms, LocationDetails};
use crate::domain::{
    ChannelRule, LedgerError, LedgerEvent, LocationRecord, channel_stream, location_stream, position_stream, sku_stream,
};

/// Keep `quantity` units of a position back from what it promises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetSafetyStock {
    pub sku: String,
    pub location: String,
    pub quantity: i64,
    pub unknown_skus: UnknownSkus,
}

impl Decide<Ledger> for SetSafetyStock {
    type Refusal = LedgerError;

    fn decide(&self, ledger: &Ledger, _now: DateTime<Utc>) -> Result<Changes<LedgerEvent>, LedgerError> {
        let mut bad = Vec::new();
        if self.sku.trim().is_empty() {
            bad.push(("sku".to_owned(), "is required".to_owned()));
        }
        if self.quantity < 0 {
            bad.push(("quantity".to_owned(), "cannot be negative".to_owned()));
        }
        if self.location.trim().is_empty() {
            bad.push(("location_id".to_owned(), "is required".to_owned()));
        }
        if !bad.is_empty() {
            return Err(LedgerError::Invalid(bad));
        }
        ledger.check_location(&self.location, false)?;
        ledger.check_sku(&self.sku, self.unknown_skus)?;
        if ledger
            .position(&self.sku, &self.location)
            .is_some_and(|p| p.safety_stock == self.quantity)
        {
            return Ok(Vec::new());
        }
        Ok(vec![Change::new(
            position_stream(&self.location, &self.sku),
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
        let mut bad = Vec::new();
        if location.location_id.trim().is_empty() {
            bad.push(("location_id".to_owned(), "is required".to_owned()));
        }
        if location.latitude.is_some_and(|l| !(-90.0..=90.0).contains(&l)) {
            bad.push((
                "address.location.latitude".to_owned(),
                "must be between -90 and 90".to_owned(),
            ));
        }
        if location.longitude.is_some_and(|l| !(-180.0..=180.0).contains(&l)) {
            bad.push((
                "address.location.longitude".to_owned(),
                "must be between -180 and 180".to_owned(),
            ));
        }
        if !bad.is_empty() {
            return Err(LedgerError::Invalid(bad));
        }
        if ledger.locations.get(&location.location_id) == Some(location) {
            return Ok(Vec::new());
        }
        Ok(vec![Change::new(
            location_stream(&location.location_id),
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
        let mut bad = Vec::new();
        if rule.channel.trim().is_empty() {
            bad.push(("channel".to_owned(), "is required".to_owned()));
        }
        if rule.holdback_units < 0 {
            bad.push(("holdback_units".to_owned(), "cannot be negative".to_owned()));
        }
        if !(1..=100).contains(&rule.share_percent) {
            bad.push(("share_percent".to_owned(), "must be between 1 and 100".to_owned()));
        }
        if !bad.is_empty() {
            return Err(LedgerError::Invalid(bad));
        }
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
    pub skus: Vec<String>,
}

impl Decide<Ledger> for RegisterSkus {
    type Refusal = LedgerError;

    fn decide(&self, ledger: &Ledger, _now: DateTime<Utc>) -> Result<Changes<LedgerEvent>, LedgerError> {
        let bad: Vec<(String, String)> = self
            .skus
            .iter()
            .enumerate()
            .filter(|(_, s)| s.trim().is_empty())
            .map(|(i, _)| (format!("skus[{i}]"), "is empty".to_owned()))
            .collect();
        if !bad.is_empty() {
            return Err(LedgerError::Invalid(bad));
        }
        let new: BTreeSet<&String> = self.skus.iter().filter(|s| !ledger.skus.contains(*s)).collect();
        Ok(new
            .into_iter()
            .map(|sku| Change::new(sku_stream(sku), LedgerEvent::SkuRegistered { sku: sku.clone() }))
            .collect())
    }
}
