//! The input limits of the public contracts: what a message the OMS takes in — a gRPC
//! request, or a message on a topic fed by a system outside the OMS — may hold.
//!
//! The limits are checked against the message's schema, field by field, in one place for
//! every service, so a 1 MB customer name or a NUL in a SKU is refused at the door — with
//! the field named — before it can travel into any log, topic or database (PostgreSQL
//! cannot store a NUL in `text`; SQLite can: the same input must not behave differently on
//! the two backends). What a field means (required, positive, a known store) is each
//! service's own validation; these are the bounds every field keeps whatever it means.
//!
//! | what | limit |
//! |---|---|
//! | a gRPC request | [`MAX_REQUEST_BYTES`] |
//! | a message on an inbound topic | [`MAX_TOPIC_MESSAGE_BYTES`] |
//! | an id (`*_id`, `*_ids`, `reference`, codes, tracking numbers) | [`MAX_ID_CHARS`] characters, no control characters, no surrounding spaces |
//! | a SKU (`sku`, `skus`) | [`MAX_SKU_CHARS`] characters, no spaces or control characters |
//! | free text (`reason`, `description`, `detail`, `note`) | [`MAX_TEXT_CHARS`] characters, no control characters but line breaks and tabs |
//! | any other text (names, address lines, e-mail, phone…) | [`MAX_NAME_CHARS`] characters, no control characters |
//! | a document field (`json`) | the message size |
//! | lines of an order | [`MAX_ORDER_LINES`] |
//! | any other list | [`MAX_LIST_ITEMS`] items |
//! | a quantity (`quantity`, `ordered`, `picked`…) | ±[`MAX_QUANTITY`] |
//! | an amount (`amount_minor`, `*_minor`) | ±[`MAX_AMOUNT_MINOR`] |

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage, Value};

/// Largest gRPC request a service decodes (4 MiB).
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// Largest message taken from an inbound topic (1 MiB); a bigger one is dead-lettered.
pub const MAX_TOPIC_MESSAGE_BYTES: usize = 1024 * 1024;
pub const MAX_ID_CHARS: usize = 128;
pub const MAX_SKU_CHARS: usize = 64;
pub const MAX_NAME_CHARS: usize = 256;
pub const MAX_TEXT_CHARS: usize = 2_000;
pub const MAX_ORDER_LINES: usize = 250;
pub const MAX_LIST_ITEMS: usize = 1_000;
pub const MAX_QUANTITY: i64 = 1_000_000;
pub const MAX_AMOUNT_MINOR: i64 = 10_000_000_000_000;

/// A field beyond its limits: (field path, what is wrong), e.g.
/// (`lines[0].sku`, "contains a control character (U+0000)").
pub type Violation = (String, String);

/// The schemas of every contract.
pub fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        // The descriptor set is compiled into this crate from the same .proto files as the
        // generated code; if it could not be read, no contract would work at all.
        DescriptorPool::decode(crate::FILE_DESCRIPTOR_SET).unwrap_or_else(|_| DescriptorPool::new())
    })
}

/// The message type a gRPC method takes, from its path (`/oms.orders.v1.OrderCapture/PlaceOrder`).
pub fn request_type(path: &str) -> Option<MessageDescriptor> {
    let (service, method) = path.trim_start_matches('/').split_once('/')?;
    let service = pool().get_service_by_name(service)?;
    let method = service.methods().find(|m| m.name() == method)?;
    Some(method.input())
}

/// Checks an encoded message of type `message_type` (a full name, e.g.
/// `oms.orders.v1.OrderDraft`) against the limits. A message that does not decode as that
/// type is left to its reader, which says why. A type this build does not know: no limits
/// but the size.
pub fn check_encoded(message_type: &str, bytes: &[u8]) -> Result<(), Vec<Violation>> {
    match pool().get_message_by_name(message_type) {
        Some(descriptor) => check_as(&descriptor, bytes),
        None => Ok(()),
    }
}

/// As [`check_encoded`], with the message's descriptor.
pub fn check_as(descriptor: &MessageDescriptor, bytes: &[u8]) -> Result<(), Vec<Violation>> {
    let Ok(message) = DynamicMessage::decode(descriptor.clone(), bytes) else {
        return Ok(());
    };
    let mut bad = Vec::new();
    walk(&message, "", &mut bad);
    if bad.is_empty() { Ok(()) } else { Err(bad) }
}

/// The violations, as one line: "field: what; field: what".
pub fn describe(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|(field, what)| format!("{field}: {what}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn walk(message: &DynamicMessage, prefix: &str, bad: &mut Vec<Violation>) {
    for (field, value) in message.fields() {
        let path = format!("{prefix}{}", field.name());
        match value {
            Value::List(items) => {
                let most = if field.name() == "lines" && message.descriptor().full_name() == "oms.orders.v1.OrderDraft"
                {
                    MAX_ORDER_LINES
                } else {
                    MAX_LIST_ITEMS
                };
                if items.len() > most {
                    bad.push((path.clone(), format!("{} items, at most {most}", items.len())));
                    continue;
                }
                for (i, item) in items.iter().enumerate() {
                    check_value(&field, item, &format!("{path}[{i}]"), bad);
                }
            }
            Value::Map(entries) => {
                if entries.len() > MAX_LIST_ITEMS {
                    bad.push((path, format!("{} entries, at most {MAX_LIST_ITEMS}", entries.len())));
                    continue;
                }
                let value_field = match field.kind() {
                    Kind::Message(entry) => entry.map_entry_value_field(),
                    _ => continue,
                };
                for (key, item) in entries {
                    if let prost_reflect::MapKey::String(key) = key {
                        check_text(&path, key, TextClass::Id, bad);
                    }
                    check_value(&value_field, item, &path, bad);
                }
            }
            single => check_value(&field, single, &path, bad),
        }
    }
}

fn check_value(field: &FieldDescriptor, value: &Value, path: &str, bad: &mut Vec<Violation>) {
    match value {
        Value::String(text) => check_text(path, text, TextClass::of(field.name()), bad),
        Value::Message(inner) => walk(inner, &format!("{path}."), bad),
        Value::I64(n) => check_number(field.name(), i128::from(*n), path, bad),
        Value::I32(n) => check_number(field.name(), i128::from(*n), path, bad),
        Value::U64(n) => check_number(field.name(), i128::from(*n), path, bad),
        Value::U32(n) => check_number(field.name(), i128::from(*n), path, bad),
        _ => {}
    }
}

fn check_number(name: &str, n: i128, path: &str, bad: &mut Vec<Violation>) {
    let most = if is_quantity(name) {
        MAX_QUANTITY
    } else if name == "amount_minor" || name.ends_with("_minor") {
        MAX_AMOUNT_MINOR
    } else {
        return;
    };
    if n.abs() > i128::from(most) {
        bad.push((path.to_owned(), format!("{n} is beyond ±{most}")));
    }
}

fn is_quantity(name: &str) -> bool {
    matches!(
        name,
        "quantity" | "ordered" | "picked" | "cancelled" | "resellable" | "damaged" | "units" | "counted"
    )
}

/// How a text field is bounded, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextClass {
    Id,
    Sku,
    Name,
    Text,
    Document,
}

impl TextClass {
    fn of(name: &str) -> Self {
        match name {
            "sku" | "skus" => TextClass::Sku,
            "json" => TextClass::Document,
            "reason" | "description" | "detail" | "note" | "notes" | "comment" => TextClass::Text,
            "reference" | "pickup_code" | "tracking_number" | "carrier" | "service" | "channel" | "currency"
            | "page_token" | "bay" | "name_contains" => TextClass::Id,
            _ if name.ends_with("_id") || name.ends_with("_ids") || name == "id" => TextClass::Id,
            _ => TextClass::Name,
        }
    }

    fn most(self) -> Option<usize> {
        match self {
            TextClass::Id => Some(MAX_ID_CHARS),
            TextClass::Sku => Some(MAX_SKU_CHARS),
            TextClass::Name => Some(MAX_NAME_CHARS),
            TextClass::Text => Some(MAX_TEXT_CHARS),
            TextClass::Document => None,
        }
    }
}

fn check_text(path: &str, text: &str, class: TextClass, bad: &mut Vec<Violation>) {
    if let Some(most) = class.most() {
        // Counting stops past the limit: a megabyte of text is not walked to the end.
        let chars = text.chars().take(most + 1).count();
        if chars > most {
            bad.push((path.to_owned(), format!("longer than {most} characters")));
            return;
        }
    }
    let allowed = |c: char| match class {
        TextClass::Text | TextClass::Document => c == '\n' || c == '\t' || c == '\r',
        _ => false,
    };
    if let Some(c) = text.chars().find(|c| c.is_control() && !allowed(*c)) {
        bad.push((
            path.to_owned(),
            format!("contains a control character (U+{:04X})", u32::from(c)),
        ));
        return;
    }
    match class {
        TextClass::Sku if text.chars().any(char::is_whitespace) => {
            bad.push((path.to_owned(), "a SKU has no spaces".to_owned()));
        }
        TextClass::Id if text.trim() != text => {
            bad.push((path.to_owned(), "has spaces at its start or end".to_owned()));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;
    use crate::orders::v1 as orders;

    fn draft() -> orders::OrderDraft {
        orders::OrderDraft {
            external_order_id: "W-1".into(),
            customer: Some(orders::Customer {
                customer_id: "C-1".into(),
                name: "Ada Lovelace".into(),
                ..Default::default()
            }),
            lines: vec![orders::OrderLine {
                line_id: "1".into(),
                sku: "SKU-001".into(),
                quantity: 2,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn check(draft: &orders::OrderDraft) -> Result<(), Vec<Violation>> {
        check_encoded("oms.orders.v1.OrderDraft", &draft.encode_to_vec())
    }

    #[test]
    fn an_ordinary_order_is_within_every_limit() {
        assert_eq!(check(&draft()), Ok(()));
    }

    #[test]
    fn a_huge_name_and_a_nul_in_a_sku_are_named() {
        let mut order = draft();
        if let Some(customer) = order.customer.as_mut() {
            customer.name = "A".repeat(1_000_000);
        }
        order.lines[0].sku = "SKU\u{0}1".into();
        let bad = check(&order).unwrap_err();
        assert_eq!(
            bad,
            vec![
                ("customer.name".to_owned(), "longer than 256 characters".to_owned()),
                (
                    "lines[0].sku".to_owned(),
                    "contains a control character (U+0000)".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn ids_skus_lists_and_quantities_have_their_bounds() {
        let mut order = draft();
        order.external_order_id = "x".repeat(129);
        order.lines[0].sku = "SKU 1".into();
        order.lines[0].quantity = 2_000_000;
        let bad = check(&order).unwrap_err();
        let fields: Vec<&str> = bad.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["external_order_id", "lines[0].sku", "lines[0].quantity"]);

        let mut many = draft();
        many.lines = vec![many.lines[0].clone(); MAX_ORDER_LINES + 1];
        assert_eq!(check(&many).unwrap_err()[0].0, "lines");
    }

    #[test]
    fn a_request_type_is_found_from_the_method_path() {
        let input = request_type("/oms.orders.v1.OrderCapture/PlaceOrder").expect("a known method");
        assert_eq!(input.full_name(), "oms.orders.v1.PlaceOrderRequest");
        assert!(request_type("/oms.orders.v1.OrderCapture/Nope").is_none());
        assert!(request_type("garbage").is_none());
    }
}
