//! The closed lists of the contracts — sales channels, delivery methods, priorities,
//! tenders, node types — as Rust enums. Each is read from its protobuf enum (or the enum's
//! name, where a message carries it as a string) here, once; stored in events by its code
//! (`click_and_collect`).

use serde::{Deserialize, Serialize};

use crate::orders::v1 as orders;
use crate::routing::v1 as routing;

/// A closed list of the contracts, with its protobuf enum `$pb` (whose `Unspecified` value
/// is no value at all).
macro_rules! kind {
    (
        $(#[$meta:meta])*
        $name:ident: $pb:ty {
            $( $(#[$vmeta:meta])* $variant:ident = $pb_variant:ident, $code:literal, $label:literal; )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $code)] $variant, )+
        }

        impl $name {
            /// Every value, in the contract's order.
            pub const ALL: &'static [$name] = &[$( $name::$variant, )+];

            /// The value of the contract's enum number; `None` for unspecified or unknown.
            pub fn from_pb(value: i32) -> Option<Self> {
                match <$pb>::try_from(value).ok()? {
                    $( <$pb>::$pb_variant => Some($name::$variant), )+
                    _ => None,
                }
            }

            pub fn to_pb(self) -> $pb {
                match self {
                    $( $name::$variant => <$pb>::$pb_variant, )+
                }
            }

            /// The contract's name of the value (`DELIVERY_METHOD_CLICK_AND_COLLECT`), for
            /// messages that carry it as a string.
            pub fn proto_name(self) -> &'static str {
                self.to_pb().as_str_name()
            }

            /// The value named by the contract's name, or by its code.
            pub fn from_name(name: &str) -> Option<Self> {
                if let Some(pb) = <$pb>::from_str_name(name) {
                    return Self::from_pb(pb as i32);
                }
                Self::ALL.iter().copied().find(|v| v.code() == name)
            }

            /// The value an event of an earlier schema version stored by its Rust name
            /// (`ClickAndCollect`), as services named their own enums before the kernel.
            pub fn from_variant_name(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| format!("{v:?}") == name)
            }

            /// The value's code, as events store it (`click_and_collect`).
            pub fn code(self) -> &'static str {
                match self {
                    $( $name::$variant => $code, )+
                }
            }

            /// How people call it (`click & collect`).
            pub fn label(self) -> &'static str {
                match self {
                    $( $name::$variant => $label, )+
                }
            }

            /// What a field of this kind may be, for a refusal: `must be NORMAL, HIGH or
            /// URGENT` (the contract's names without their common prefix).
            pub fn expected() -> String {
                let prefix = <$pb>::Unspecified.as_str_name().trim_end_matches("UNSPECIFIED");
                let names: Vec<&str> = Self::ALL
                    .iter()
                    .map(|v| v.proto_name().trim_start_matches(prefix))
                    .collect();
                match names.split_last() {
                    Some((last, rest)) if !rest.is_empty() => format!("must be {} or {last}", rest.join(", ")),
                    _ => format!("must be {}", names.join("")),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.label())
            }
        }
    };
}

kind! {
    /// Where an order was placed.
    Channel: orders::Channel {
        Web = Web, "web", "web";
        App = App, "app", "app";
        Marketplace = Marketplace, "marketplace", "marketplace";
        /// At a store's till, or by store staff for a customer (endless aisle).
        Store = Store, "store", "store";
        CallCentre = CallCentre, "call_centre", "call centre";
    }
}

impl Channel {
    /// The channel as the OMS has always named it outside its events: in the ids of orders
    /// (an order sent again gets its id again) and in the ledger's channel rules
    /// (`call-centre`, where the code is `call_centre`).
    pub fn name(self) -> &'static str {
        match self {
            Channel::CallCentre => "call-centre",
            other => other.code(),
        }
    }
}

kind! {
    /// How the customer gets the goods.
    DeliveryMethod: orders::DeliveryMethod {
        Standard = Standard, "standard", "standard";
        Express = Express, "express", "express";
        SameDay = SameDay, "same_day", "same-day";
        /// Collected by the customer inside the store.
        ClickAndCollect = ClickAndCollect, "click_and_collect", "click & collect";
        /// Brought out to the customer's car at the store.
        Curbside = Curbside, "curbside", "curbside";
        /// Deposited in a parcel locker.
        Locker = Locker, "locker", "locker";
        /// Sent to a store, collected there.
        ShipToStore = ShipToStore, "ship_to_store", "ship-to-store";
    }
}

impl DeliveryMethod {
    /// Brought to an address (not collected).
    pub fn is_shipped(self) -> bool {
        matches!(self, Self::Standard | Self::Express | Self::SameDay)
    }

    /// Collected by the customer at a pickup location.
    pub fn is_pickup(self) -> bool {
        !self.is_shipped()
    }
}

kind! {
    /// How urgently an order is fulfilled.
    Priority: orders::Priority {
        Normal = Normal, "normal", "normal";
        High = High, "high", "high";
        Urgent = Urgent, "urgent", "urgent";
    }
}

// `kind!` makes the enum and derives no `Default`: the derive clippy asks for cannot be written.
#[allow(clippy::derivable_impls)]
impl Default for Priority {
    fn default() -> Self {
        Self::Normal
    }
}

kind! {
    /// How an order was paid, and so how it is refunded.
    Tender: orders::TenderType {
        Card = Card, "card", "card";
        PayPal = Paypal, "paypal", "PayPal";
        GiftCard = GiftCard, "gift_card", "gift card";
        StoreCredit = StoreCredit, "store_credit", "store credit";
        Invoice = Invoice, "invoice", "invoice";
        CashOnDelivery = CashOnDelivery, "cash_on_delivery", "cash on delivery";
    }
}

kind! {
    /// What kind of place a fulfilment node is.
    NodeType: routing::NodeType {
        Store = Store, "store", "store";
        Warehouse = Warehouse, "warehouse", "warehouse";
        Supplier = Supplier, "supplier", "supplier";
        ThreePl = ThreePl, "three_pl", "3PL";
        Locker = Locker, "locker", "locker bank";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_is_read_from_its_number_its_name_or_its_code() {
        let method = DeliveryMethod::ClickAndCollect;
        assert_eq!(DeliveryMethod::from_pb(method.to_pb() as i32), Some(method));
        assert_eq!(method.proto_name(), "DELIVERY_METHOD_CLICK_AND_COLLECT");
        assert_eq!(
            DeliveryMethod::from_name("DELIVERY_METHOD_CLICK_AND_COLLECT"),
            Some(method)
        );
        assert_eq!(DeliveryMethod::from_name("click_and_collect"), Some(method));
        assert_eq!(DeliveryMethod::from_pb(0), None);
        assert_eq!(DeliveryMethod::from_name("DELIVERY_METHOD_UNSPECIFIED"), None);
        assert_eq!(Tender::from_name("TENDER_TYPE_STORE_CREDIT"), Some(Tender::StoreCredit));
        assert_eq!(NodeType::from_name("NODE_TYPE_THREE_PL"), Some(NodeType::ThreePl));
        assert_eq!(Tender::from_variant_name("PayPal"), Some(Tender::PayPal));
        assert_eq!(Tender::from_variant_name("paypal"), None);
    }

    #[test]
    fn a_channel_keeps_the_name_ids_and_rules_know_it_by() {
        assert_eq!(Channel::CallCentre.name(), "call-centre");
        assert_eq!(Channel::Web.name(), "web");
    }

    #[test]
    fn events_store_the_code() {
        assert_eq!(
            serde_json::to_string(&DeliveryMethod::ShipToStore).unwrap(),
            "\"ship_to_store\""
        );
        for method in DeliveryMethod::ALL {
            let json = serde_json::to_string(method).unwrap();
            assert_eq!(json, format!("\"{}\"", method.code()));
        }
        for tender in Tender::ALL {
            assert_eq!(serde_json::to_string(tender).unwrap(), format!("\"{}\"", tender.code()));
        }
        for channel in Channel::ALL {
            assert_eq!(
                serde_json::to_string(channel).unwrap(),
                format!("\"{}\"", channel.code())
            );
        }
        for node in NodeType::ALL {
            assert_eq!(serde_json::to_string(node).unwrap(), format!("\"{}\"", node.code()));
        }
    }

    #[test]
    fn a_refusal_lists_what_is_expected() {
        assert_eq!(Priority::expected(), "must be NORMAL, HIGH or URGENT");
        assert_eq!(
            Channel::expected(),
            "must be WEB, APP, MARKETPLACE, STORE or CALL_CENTRE"
        );
    }
}
