//! Money: an amount in a currency's minor unit (cents), never a float.

use serde::{Deserialize, Serialize};

use super::Violations;
use crate::common::v1 as pb;

/// An amount in the minor unit of an ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

    /// The money of a contract, or why it is not money: the violations name `field`.
    pub fn from_pb(money: Option<&pb::Money>, field: &str, bad: &mut Violations) -> Option<Self> {
        let Some(money) = money else {
            bad.add(field, "is required");
            return None;
        };
        if !is_currency(&money.currency) {
            bad.add(format!("{field}.currency"), "must be an ISO 4217 code, e.g. EUR");
            return None;
        }
        Some(Self::new(money.amount_minor, money.currency.clone()))
    }

    pub fn to_pb(&self) -> pb::Money {
        pb::Money {
            amount_minor: self.amount_minor,
            currency: self.currency.clone(),
        }
    }

    /// `12.50 EUR`
    pub fn display(&self) -> String {
        let sign = if self.amount_minor < 0 { "-" } else { "" };
        let units = self.amount_minor.unsigned_abs();
        format!("{sign}{}.{:02} {}", units / 100, units % 100, self.currency)
    }
}

/// Three capital letters.
pub fn is_currency(code: &str) -> bool {
    code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_read_once_and_refused_with_its_field() {
        let mut bad = Violations::new();
        let eur = pb::Money {
            amount_minor: 1250,
            currency: "EUR".into(),
        };
        assert_eq!(
            Money::from_pb(Some(&eur), "price", &mut bad),
            Some(Money::new(1250, "EUR"))
        );
        assert_eq!(Money::new(1250, "EUR").to_pb(), eur);
        assert_eq!(Money::new(-5, "EUR").display(), "-0.05 EUR");
        let euros = pb::Money {
            amount_minor: 1,
            currency: "euro".into(),
        };
        assert_eq!(Money::from_pb(Some(&euros), "lines[1].unit_price", &mut bad), None);
        assert_eq!(Money::from_pb(None, "authorised", &mut bad), None);
        assert_eq!(
            bad.to_string(),
            "lines[1].unit_price.currency: must be an ISO 4217 code, e.g. EUR; authorised: is required"
        );
    }
}
