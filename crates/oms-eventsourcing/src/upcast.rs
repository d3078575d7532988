//! Small tools for upcasters ([`crate::DomainEvent::upcast`]): reshaping the stored JSON of
//! an event written under an older schema version into the next one. Each fails with a
//! reason naming what the old JSON lacked, never with a guess.

use serde_json::{Map, Value};

/// The fields of an externally tagged event `{"<event_type>": {...}}`, taken out to be
/// reshaped; [`event`] puts them back.
pub fn fields_of(json: Value, event_type: &str) -> Result<Map<String, Value>, String> {
    match json {
        Value::Object(mut outer) => match outer.remove(event_type) {
            Some(Value::Object(fields)) => Ok(fields),
            _ => Err(format!("{event_type} is not an object of fields")),
        },
        _ => Err(format!("{event_type} is not stored as an object")),
    }
}

/// The stored JSON of an event of `event_type` with these fields.
pub fn event(event_type: &str, fields: Map<String, Value>) -> Value {
    Value::Object(Map::from_iter([(event_type.to_owned(), Value::Object(fields))]))
}

/// Removes `field` from `object`: it must be there.
pub fn take(object: &mut Map<String, Value>, field: &str) -> Result<Value, String> {
    object.remove(field).ok_or_else(|| format!("no field {field}"))
}

/// An object of the `fields` of `object`, each `(old name, new name)`; the rest is left out.
pub fn keep(object: &mut Map<String, Value>, fields: &[(&str, &str)]) -> Result<Map<String, Value>, String> {
    fields
        .iter()
        .map(|(old, new)| Ok(((*new).to_owned(), take(object, old)?)))
        .collect()
}

/// Each element of a list, made by `each`.
pub fn each_of(list: Value, mut each: impl FnMut(Value) -> Result<Value, String>) -> Result<Value, String> {
    match list {
        Value::Array(items) => items
            .into_iter()
            .map(&mut each)
            .collect::<Result<_, _>>()
            .map(Value::Array),
        _ => Err("not a list".to_owned()),
    }
}

/// An object, or why not.
pub fn object(value: Value) -> Result<Map<String, Value>, String> {
    match value {
        Value::Object(object) => Ok(object),
        other => Err(format!("{other} is not an object")),
    }
}

/// Replaces the string at `pointer` (`/Placed/draft/channel`) by what `rename` makes of
/// it: an enum value stored under an old name, say, stored under its new one.
pub fn rename_at(json: &mut Value, pointer: &str, rename: impl Fn(&str) -> Option<String>) -> Result<(), String> {
    let value = json
        .pointer_mut(pointer)
        .ok_or_else(|| format!("no value at {pointer}"))?;
    let old = value.as_str().ok_or_else(|| format!("{pointer} is not a string"))?;
    let new = rename(old).ok_or_else(|| format!("{pointer}: {old} is not a value of the old version"))?;
    *value = Value::String(new);
    Ok(())
}

/// A point kept as `latitude` and `longitude` beside other fields of `object`, taken out
/// and returned as one value `{"latitude", "longitude"}` (null unless both were numbers).
pub fn point_of(object: &mut Map<String, Value>) -> Value {
    let latitude = object.remove("latitude").unwrap_or(Value::Null);
    let longitude = object.remove("longitude").unwrap_or(Value::Null);
    match (latitude, longitude) {
        (Value::Number(latitude), Value::Number(longitude)) => Value::Object(Map::from_iter([
            ("latitude".to_owned(), Value::Number(latitude)),
            ("longitude".to_owned(), Value::Number(longitude)),
        ])),
        _ => Value::Null,
    }
}

/// A positional tuple (`["1", 2]`) as an object naming its elements (`{"line_id": "1",
/// "units": 2}`): exactly one name per element.
pub fn named(tuple: Value, names: &[&str]) -> Result<Value, String> {
    match tuple {
        Value::Array(items) if items.len() == names.len() => Ok(Value::Object(
            names.iter().map(|n| (*n).to_owned()).zip(items).collect(),
        )),
        other => Err(format!("{other} is not a tuple of {}", names.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_list_of_pairs_becomes_a_list_of_named_fields() {
        let mut fields = fields_of(json!({"Picked": {"picked": [["1", 2], ["2", 0]], "at": "t"}}), "Picked").unwrap();
        let picked = take(&mut fields, "picked").unwrap();
        let lines = each_of(picked, |pair| named(pair, &["line_id", "units"])).unwrap();
        fields.insert("lines".into(), lines);
        assert_eq!(
            event("Picked", fields),
            json!({"Picked": {"lines": [{"line_id": "1", "units": 2}, {"line_id": "2", "units": 0}], "at": "t"}})
        );
    }

    #[test]
    fn kept_fields_are_renamed_and_the_rest_left_out() {
        let mut old = object(json!({"id": 1, "created_at": "t", "status": "Open"})).unwrap();
        let kept = keep(&mut old, &[("id", "id"), ("created_at", "at")]).unwrap();
        assert_eq!(Value::Object(kept), json!({"id": 1, "at": "t"}));
    }

    #[test]
    fn an_old_name_is_renamed_and_a_point_gathered() {
        let mut json = json!({"Placed": {"channel": "CallCentre", "address": {"city": "Berlin", "latitude": 52.5, "longitude": 13.4}}});
        rename_at(&mut json, "/Placed/channel", |old| {
            (old == "CallCentre").then(|| "call_centre".to_owned())
        })
        .unwrap();
        let address = json
            .pointer_mut("/Placed/address")
            .and_then(Value::as_object_mut)
            .unwrap();
        let point = point_of(address);
        address.insert("location".into(), point);
        assert_eq!(
            json,
            json!({"Placed": {"channel": "call_centre", "address": {"city": "Berlin", "location": {"latitude": 52.5, "longitude": 13.4}}}})
        );
        assert!(rename_at(&mut json, "/Placed/channel", |_| None).is_err());
        assert_eq!(point_of(&mut Map::new()), Value::Null);
    }

    #[test]
    fn what_the_old_json_lacks_is_named() {
        assert_eq!(take(&mut Map::new(), "job"), Err("no field job".to_owned()));
        assert!(named(json!(["1"]), &["line_id", "units"]).is_err());
        assert!(fields_of(json!({"Other": {}}), "Picked").is_err());
    }
}
