//! Ids of the things the OMS keeps, one type each, so an order id is never passed where a
//! SKU is meant. Stored and sent as the plain string they wrap.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }

            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// Maps keyed by the id are looked up by a `&str`.
        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

id!(
    /// An order, as order capture names it.
    OrderId
);
id!(
    /// A line of an order, unique within it.
    LineId
);
id!(
    /// A stock-keeping unit.
    Sku
);
id!(
    /// A place that holds stock or hands it over: a store, warehouse, supplier, locker bank.
    LocationId
);
id!(
    /// A fulfilment request given to one node.
    JobId
);
id!(
    /// A return of units of an order.
    ReturnId
);
id!(
    /// A refund to one tender.
    RefundId
);
id!(
    /// Units held for an order at one location.
    ReservationId
);

/// Units of one order line: found by a picker, shipped by a node, delivered, received
/// back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineUnits {
    pub line_id: LineId,
    pub units: i64,
}

impl LineUnits {
    pub fn new(line_id: impl Into<LineId>, units: i64) -> Self {
        Self {
            line_id: line_id.into(),
            units,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn an_id_is_stored_as_its_string_and_found_by_it() {
        let sku = Sku::new("SKU-001");
        assert_eq!(serde_json::to_string(&sku).unwrap(), "\"SKU-001\"");
        let read: Sku = serde_json::from_str("\"SKU-001\"").unwrap();
        assert_eq!(read, sku);
        let stock: HashMap<Sku, i64> = [(sku.clone(), 3)].into();
        assert_eq!(stock.get("SKU-001"), Some(&3));
        assert_eq!(sku, "SKU-001");
    }
}
