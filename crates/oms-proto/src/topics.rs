//! Every topic of the OMS, declared once: its name, who publishes on it, what its messages
//! are and what they are keyed by. Services name topics through these declarations (the
//! dead-letter topic and the readers' names follow from them), and the README's table of
//! topics says the same.

/// Who publishes on a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publisher {
    /// An OMS service, by name (its outbox is relayed to the topic).
    Service(&'static str),
    /// Systems outside the OMS: sales channels, POS, WMS, the payment gateway adapter.
    Outside(&'static str),
}

/// One topic of the OMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topic {
    pub name: &'static str,
    pub publisher: Publisher,
    /// The protobuf message of every payload.
    pub payload: &'static str,
    /// What the key of a message is.
    pub key: &'static str,
    /// How a reader of the topic is named after it (`<service>.<reader>`): its inbox and,
    /// on Kafka, its consumer group.
    pub reader: &'static str,
}

impl Topic {
    /// Where its readers set aside what they can never apply.
    pub fn dead_letter(&self) -> String {
        format!("{}.dlq", self.name)
    }

    /// Fed by a system outside the OMS.
    pub fn is_inbound(&self) -> bool {
        matches!(self.publisher, Publisher::Outside(_))
    }

    /// The `ce_type` of a message of kind `kind` (`OrderPlaced`), in the payload's package
    /// (`oms.orders.v1.OrderPlaced`).
    pub fn message_type(&self, kind: &str) -> String {
        let package = self
            .payload
            .rsplit_once('.')
            .map_or(self.payload, |(package, _)| package);
        format!("{package}.{kind}")
    }

    /// The name of `service`'s reader of this topic.
    pub fn reader_of(&self, service: &str) -> String {
        format!("{service}.{}", self.reader)
    }
}

pub const ORDERS: Topic = Topic {
    name: "oms.orders.v1",
    publisher: Publisher::Service("order-capture"),
    payload: "oms.orders.v1.OrderEvent",
    key: "order id",
    reader: "orders",
};

pub const INVENTORY: Topic = Topic {
    name: "oms.inventory.v1",
    publisher: Publisher::Service("inventory-ledger"),
    payload: "oms.inventory.v1.InventoryEvent",
    key: "SKU (PositionChanged), reservation id (Reservation*)",
    reader: "inventory",
};

pub const ROUTING: Topic = Topic {
    name: "oms.routing.v1",
    publisher: Publisher::Service("routing"),
    payload: "oms.routing.v1.RoutingEvent",
    key: "order id",
    reader: "routing",
};

pub const FULFILMENT: Topic = Topic {
    name: "oms.fulfilment.v1",
    publisher: Publisher::Service("store-fulfilment"),
    payload: "oms.fulfilment.v1.FulfilmentEvent",
    key: "order id",
    reader: "fulfilment",
};

pub const RETURNS: Topic = Topic {
    name: "oms.returns.v1",
    publisher: Publisher::Service("returns"),
    payload: "oms.returns.v1.ReturnEvent",
    key: "return id",
    reader: "returns",
};

pub const CHANNEL_ORDERS: Topic = Topic {
    name: "oms.channel-orders.v1",
    publisher: Publisher::Outside("sales channels"),
    payload: "oms.orders.v1.OrderDraft",
    key: "channel and external order id",
    reader: "channel-orders",
};

pub const POS_MOVEMENTS: Topic = Topic {
    name: "oms.pos-movements.v1",
    publisher: Publisher::Outside("POS systems"),
    payload: "oms.pos.v1.StockMovement",
    key: "location id",
    reader: "pos",
};

pub const CONFIRMATIONS: Topic = Topic {
    name: "oms.fulfilment-confirmations.v1",
    publisher: Publisher::Outside("WMS, 3PL and supplier systems"),
    payload: "oms.fulfilment.v1.NodeConfirmation",
    key: "job id",
    reader: "confirmations",
};

pub const PAYMENTS: Topic = Topic {
    name: "oms.payments.v1",
    publisher: Publisher::Outside("the payment gateway adapter"),
    payload: "oms.returns.v1.PaymentResult",
    key: "refund id",
    reader: "payments",
};

/// Every topic of the OMS.
pub const ALL: [&Topic; 9] = [
    &ORDERS,
    &INVENTORY,
    &ROUTING,
    &FULFILMENT,
    &RETURNS,
    &CHANNEL_ORDERS,
    &POS_MOVEMENTS,
    &CONFIRMATIONS,
    &PAYMENTS,
];

/// The declaration of the topic named `name`.
pub fn named(name: &str) -> Option<&'static Topic> {
    ALL.into_iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_type_is_in_the_payloads_package() {
        assert_eq!(ORDERS.message_type("OrderPlaced"), "oms.orders.v1.OrderPlaced");
        assert_eq!(
            CONFIRMATIONS.message_type("NodeConfirmation"),
            "oms.fulfilment.v1.NodeConfirmation"
        );
    }

    #[test]
    fn every_payload_is_a_message_of_the_contracts() {
        for topic in ALL {
            assert!(
                crate::limits::pool().get_message_by_name(topic.payload).is_some(),
                "{}: {} is not a message of proto/",
                topic.name,
                topic.payload
            );
        }
    }

    #[test]
    fn names_and_readers_are_unique() {
        for (i, a) in ALL.iter().enumerate() {
            for b in &ALL[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!(a.reader, b.reader);
            }
        }
    }
}
