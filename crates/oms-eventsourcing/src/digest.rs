//! A digest of a whole in-memory state, to prove a rebuilt state equals the live one.
//!
//! The digest walks the state through serde. Maps are hashed entry by entry and the
//! entry hashes are summed, so a `HashMap` gives the same digest whatever its iteration
//! order; everything else (structs, sequences, options, enums) is hashed in order.

use std::fmt;

use serde::Serialize;
use serde::ser;
use xxhash_rust::xxh3::Xxh3;

/// A 128-bit digest of a state. Two states with the same serialised content have the same
/// digest, whatever the iteration order of their hash maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StateDigest(pub u128);

impl fmt::Display for StateDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// The digest of `value`.
pub fn state_digest<T: Serialize + ?Sized>(value: &T) -> StateDigest {
    let mut hasher = Xxh3::new();
    // The digest serialiser has no error cases of its own; a custom `Serialize` that
    // fails still yields a digest of what it wrote, which is then compared like any other.
    let _ = value.serialize(DigestSerializer { hasher: &mut hasher });
    StateDigest(hasher.digest128())
}

#[derive(Debug)]
struct DigestError(String);

impl fmt::Display for DigestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DigestError {}

impl ser::Error for DigestError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DigestError(msg.to_string())
    }
}

struct DigestSerializer<'a> {
    hasher: &'a mut Xxh3,
}

impl DigestSerializer<'_> {
    fn tag(&mut self, tag: u8, bytes: &[u8]) {
        self.hasher.update(&[tag]);
        self.hasher.update(&(bytes.len() as u64).to_le_bytes());
        self.hasher.update(bytes);
    }
}

type Result<T = ()> = std::result::Result<T, DigestError>;

impl<'a> ser::Serializer for DigestSerializer<'a> {
    type Ok = ();
    type Error = DigestError;
    type SerializeSeq = Ordered<'a>;
    type SerializeTuple = Ordered<'a>;
    type SerializeTupleStruct = Ordered<'a>;
    type SerializeTupleVariant = Ordered<'a>;
    type SerializeMap = Unordered<'a>;
    type SerializeStruct = Ordered<'a>;
    type SerializeStructVariant = Ordered<'a>;

    fn serialize_bool(mut self, v: bool) -> Result {
        self.tag(1, &[v as u8]);
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result {
        self.serialize_i64(v as i64)
    }
    fn serialize_i16(self, v: i16) -> Result {
        self.serialize_i64(v as i64)
    }
    fn serialize_i32(self, v: i32) -> Result {
        self.serialize_i64(v as i64)
    }
    fn serialize_i64(mut self, v: i64) -> Result {
        self.tag(2, &v.to_le_bytes());
        Ok(())
    }
    fn serialize_i128(mut self, v: i128) -> Result {
        self.tag(3, &v.to_le_bytes());
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result {
        self.serialize_u64(v as u64)
    }
    fn serialize_u16(self, v: u16) -> Result {
        self.serialize_u64(v as u64)
    }
    fn serialize_u32(self, v: u32) -> Result {
        self.serialize_u64(v as u64)
    }
    fn serialize_u64(mut self, v: u64) -> Result {
        self.tag(4, &v.to_le_bytes());
        Ok(())
    }
    fn serialize_u128(mut self, v: u128) -> Result {
        self.tag(5, &v.to_le_bytes());
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result {
        self.serialize_f64(v as f64)
    }
    fn serialize_f64(mut self, v: f64) -> Result {
        self.tag(6, &v.to_bits().to_le_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(mut self, v: &str) -> Result {
        self.tag(7, v.as_bytes());
        Ok(())
    }
    fn serialize_bytes(mut self, v: &[u8]) -> Result {
        self.tag(8, v);
        Ok(())
    }
    fn serialize_none(mut self) -> Result {
        self.tag(9, &[]);
        Ok(())
    }
    fn serialize_some<T: ?Sized + Serialize>(mut self, value: &T) -> Result {
        self.tag(10, &[]);
        value.serialize(self)
    }
    fn serialize_unit(mut self) -> Result {
        self.tag(11, &[]);
        Ok(())
    }
    fn serialize_unit_struct(mut self, name: &'static str) -> Result {
        self.tag(12, name.as_bytes());
        Ok(())
    }
    fn serialize_unit_variant(mut self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.tag(13, variant.as_bytes());
        Ok(())
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        mut self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result {
        self.tag(14, variant.as_bytes());
        value.serialize(self)
    }
    fn serialize_seq(mut self, len: Option<usize>) -> Result<Ordered<'a>> {
        self.tag(15, &(len.unwrap_or(usize::MAX) as u64).to_le_bytes());
        Ok(Ordered { hasher: self.hasher })
    }
    fn serialize_tuple(self, len: usize) -> Result<Ordered<'a>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Ordered<'a>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        mut self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Ordered<'a>> {
        self.tag(16, variant.as_bytes());
        self.serialize_seq(Some(len))
    }
    fn serialize_map(mut self, _: Option<usize>) -> Result<Unordered<'a>> {
        self.tag(17, &[]);
        Ok(Unordered {
            parent: self.hasher,
            entry: None,
            sum: 0,
            count: 0,
        })
    }
    fn serialize_struct(mut self, name: &'static str, _: usize) -> Result<Ordered<'a>> {
        self.tag(18, name.as_bytes());
        Ok(Ordered { hasher: self.hasher })
    }
    fn serialize_struct_variant(
        mut self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Ordered<'a>> {
        self.tag(19, variant.as_bytes());
        Ok(Ordered { hasher: self.hasher })
    }
}

/// Sequences, tuples and structs: hashed in order.
struct Ordered<'a> {
    hasher: &'a mut Xxh3,
}

impl Ordered<'_> {
    fn element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result {
        value.serialize(DigestSerializer { hasher: self.hasher })
    }
}

impl ser::SerializeSeq for Ordered<'_> {
    type Ok = ();
    type Error = DigestError;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result {
        self.element(value)
    }
    fn end(self) -> Result {
        Ok(())
    }
}

impl ser::SerializeTuple for Ordered<'_> {
    type Ok = ();
    type Error = DigestError;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result {
        self.element(value)
    }
    fn end(self) -> Result {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for Ordered<'_> {
    type Ok = ();
    type Error = DigestError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result {
        self.element(value)
    }
    fn end(self) -> Result {
        Ok(())
    }
}

impl ser::SerializeTupleVariant for Ordered<'_> {
    type Ok = ();
    type Error = DigestError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result {
        self.element(value)
    }
    fn end(self) -> Result {
        Ok(())
    }
}

impl ser::SerializeStruct for Ordered<'_> {
    type Ok = ();
    type Error = DigestError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result {
        self.hasher.update(key.as_bytes());
        self.element(value)
    }
    fn end(self) -> Result {
        Ok(())
    }
}

impl ser::SerializeStructVariant for Ordered<'_> {
    type Ok = ();
    type Error = DigestError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result {
        self.hasher.update(key.as_bytes());
        self.element(value)
    }
    fn end(self) -> Result {
        Ok(())
    }
}

/// Maps: each entry is hashed on its own and the entry hashes are added, so the order in
/// which a map yields its entries does not matter.
struct Unordered<'a> {
    parent: &'a mut Xxh3,
    entry: Option<Xxh3>,
    sum: u128,
    count: u64,
}

impl ser::SerializeMap for Unordered<'_> {
    type Ok = ();
    type Error = DigestError;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result {
        let mut entry = Xxh3::new();
        key.serialize(DigestSerializer { hasher: &mut entry })?;
        self.entry = Some(entry);
        Ok(())
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result {
        let mut entry = self.entry.take().unwrap_or_default();
        value.serialize(DigestSerializer { hasher: &mut entry })?;
        self.sum = self.sum.wrapping_add(entry.digest128());
        self.count += 1;
        Ok(())
    }
    fn end(self) -> Result {
        self.parent.update(&self.count.to_le_bytes());
        self.parent.update(&self.sum.to_le_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    struct Shelf {
        stock: HashMap<String, i64>,
        notes: Vec<String>,
    }

    #[test]
    fn hash_map_order_does_not_change_the_digest() {
        let mut a = HashMap::new();
        let mut b = HashMap::new();
        for i in 0..500 {
            a.insert(format!("sku-{i}"), i);
        }
        for i in (0..500).rev() {
            b.insert(format!("sku-{i}"), i);
        }
        let ordered: BTreeMap<_, _> = a.clone().into_iter().collect();
        assert_eq!(state_digest(&a), state_digest(&b));
        assert_eq!(state_digest(&a), state_digest(&ordered));
    }

    #[test]
    fn any_change_of_content_changes_the_digest() {
        let shelf = |qty: i64, note: &str| Shelf {
            stock: HashMap::from([("sku-1".to_string(), qty)]),
            notes: vec![note.to_string()],
        };
        assert_eq!(state_digest(&shelf(3, "a")), state_digest(&shelf(3, "a")));
        assert_ne!(state_digest(&shelf(3, "a")), state_digest(&shelf(4, "a")));
        assert_ne!(state_digest(&shelf(3, "a")), state_digest(&shelf(3, "b")));
        // Moving a value between key and value is a different state.
        let kv = HashMap::from([("1".to_string(), "2".to_string())]);
        let vk = HashMap::from([("2".to_string(), "1".to_string())]);
        assert_ne!(state_digest(&kv), state_digest(&vk));
    }

    #[test]
    fn sequence_order_matters() {
        assert_ne!(state_digest(&vec![1, 2]), state_digest(&vec![2, 1]));
    }
}
