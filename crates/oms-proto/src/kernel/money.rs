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

    pub fn from_pb(money: &pb::Money) -> Self {
        Self::new(money.amount_minor, money.currency.clone())
    }

    /// The money of a field the contract requires: a violation naming `field` when the
    /// request leaves it out.
    pub fn required(money: Option<&pb::Money>, field: &str, bad: &mut Violations) -> Option<Self> {
        if money.is_none() {
            bad.add(field, "is required");
        }
        money.map(Self::from_pb)
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

    /// In a currency of three capital letters (ISO 4217's form).
    pub fn has_currency_code(&self) -> bool {
        is_currency(&self.currency)
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
    fn money_is_read_once_and_a_missing_amount_is_named() {
        let mut bad = Violations::new();
        let eur = pb::Money {
            amount_minor: 1250,
            currency: "EUR".into(),
        };
        assert_eq!(
            Money::required(Some(&eur), "price", &mut bad),
            Some(Money::new(1250, "EUR"))
        );
        assert_eq!(Money::new(1250, "EUR").to_pb(), eur);
        assert_eq!(Money::new(-5, "EUR").display(), "-0.05 EUR");
        assert!(!Money::new(1, "euro").has_currency_code());
        assert_eq!(Money::required(None, "payments[0].authorised", &mut bad), None);
        assert_eq!(bad.to_string(), "payments[0].authorised: is required");
    }
}
