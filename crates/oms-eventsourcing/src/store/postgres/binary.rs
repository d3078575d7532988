//! Reading events from `COPY … TO STDOUT (FORMAT binary)`: the fastest way to stream a
//! log out of PostgreSQL. Rows are parsed in place, so a replay allocates nothing per
//! event beyond what the service's own event type needs.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::store::{EventView, StoreError};

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
/// Microseconds from the Unix epoch to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// Parses a whole COPY output, given as the messages it arrived in, calling `visit` for
/// every row. PostgreSQL sends a row per message, but nothing promises it: a row split
/// across messages is put together before it is parsed.
pub(super) fn parse_copy<'m>(
    messages: impl Iterator<Item = &'m [u8]>,
    visit: &mut impl FnMut(EventView<'_>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut carry: Vec<u8> = Vec::new();
    let mut header_seen = false;
    for message in messages {
        let from_carry = !carry.is_empty();
        if from_carry {
            carry.extend_from_slice(message);
        }
        let data: &[u8] = if from_carry { &carry } else { message };
        let mut rest = data;
        if !header_seen && let Some(len) = header_len(rest)? {
            rest = &rest[len..];
            header_seen = true;
        }
        while header_seen && !rest.is_empty() {
            match parse_tuple(rest)? {
                Parsed::Row(view, after) => {
                    visit(view)?;
                    rest = after;
                }
                Parsed::Trailer => return Ok(()),
                Parsed::Incomplete => break,
            }
        }
        let consumed = data.len() - rest.len();
        if from_carry {
            carry.drain(..consumed);
        } else {
            carry = rest.to_vec();
        }
    }
    if carry.is_empty() && header_seen {
        Err(malformed("the output ended without its trailer"))
    } else {
        Err(malformed("the output ended in the middle of a row"))
    }
}

/// What the front of a buffer holds.
pub(super) enum Parsed<'a> {
    /// A whole row, and what follows it.
    Row(EventView<'a>, &'a [u8]),
    /// The end of the output.
    Trailer,
    /// Only part of a row: wait for more data.
    Incomplete,
}

/// Whether `data` starts with the whole file header; `None`: not yet all of it.
pub(super) fn header_len(data: &[u8]) -> Result<Option<usize>, StoreError> {
    let seen = data.len().min(SIGNATURE.len());
    if data[..seen] != SIGNATURE[..seen] {
        return Err(malformed("missing COPY signature"));
    }
    let fixed = SIGNATURE.len() + 8;
    if data.len() < fixed {
        return Ok(None);
    }
    let extension_len = i32::from_be_bytes(array(&data[SIGNATURE.len() + 4..fixed])) as usize;
    Ok((data.len() >= fixed + extension_len).then_some(fixed + extension_len))
}

/// Parses the row at the front of `data`.
pub(super) fn parse_tuple(data: &[u8]) -> Result<Parsed<'_>, StoreError> {
    match parse_complete(data) {
        Err(Truncated) => Ok(Parsed::Incomplete),
        Ok(parsed) => parsed,
    }
}

struct Truncated;

fn parse_complete(data: &[u8]) -> Result<Result<Parsed<'_>, StoreError>, Truncated> {
    let (count, mut rest) = split(data, 2)?;
    let count = i16::from_be_bytes(array(count));
    if count == -1 {
        return Ok(Ok(Parsed::Trailer));
    }
    if count != 10 {
        return Ok(Err(malformed(&format!("expected 10 columns, got {count}"))));
    }
    let mut fields: [Option<&[u8]>; 10] = [None; 10];
    for field in &mut fields {
        let (len, after) = split(rest, 4)?;
        let len = i32::from_be_bytes(array(len));
        rest = after;
        if len >= 0 {
            let (value, after) = split(rest, len as usize)?;
            *field = Some(value);
            rest = after;
        }
    }
    Ok(view(&fields).map(|view| Parsed::Row(view, rest)))
}

fn view<'a>(fields: &[Option<&'a [u8]>; 10]) -> Result<EventView<'a>, StoreError> {
    let required = |i: usize| fields[i].ok_or_else(|| malformed("a required column is NULL"));
    Ok(EventView {
        position: int8(required(0)?)?,
        stream_id: text(required(1)?)?,
        version: int8(required(2)?)? as u64,
        event_id: uuid(required(3)?)?,
        event_type: text(required(4)?)?,
        schema_version: i16::from_be_bytes(array(take(required(5)?, 2)?.0)) as u16,
        payload: required(6)?,
        recorded_at: timestamp(required(7)?)?,
        correlation_id: fields[8].map(uuid).transpose()?,
        causation_id: fields[9].map(uuid).transpose()?,
    })
}

fn split(data: &[u8], n: usize) -> Result<(&[u8], &[u8]), Truncated> {
    if data.len() < n {
        Err(Truncated)
    } else {
        Ok(data.split_at(n))
    }
}

/// A fixed-width value: a shorter one is malformed.
fn take(data: &[u8], n: usize) -> Result<(&[u8], &[u8]), StoreError> {
    if data.len() < n {
        return Err(malformed("a column is shorter than its type"));
    }
    Ok(data.split_at(n))
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

fn int8(bytes: &[u8]) -> Result<i64, StoreError> {
    Ok(i64::from_be_bytes(array(take(bytes, 8)?.0)))
}

fn text(bytes: &[u8]) -> Result<&str, StoreError> {
    std::str::from_utf8(bytes).map_err(|_| malformed("text column is not UTF-8"))
}

fn uuid(bytes: &[u8]) -> Result<Uuid, StoreError> {
    Ok(Uuid::from_bytes(array(take(bytes, 16)?.0)))
}

fn timestamp(bytes: &[u8]) -> Result<DateTime<Utc>, StoreError> {
    let micros = int8(bytes)?;
    DateTime::from_timestamp_micros(micros + PG_EPOCH_MICROS).ok_or_else(|| malformed("timestamp out of range"))
}

fn malformed(what: &str) -> StoreError {
    StoreError::Config(format!("unexpected COPY output from PostgreSQL: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(out: &mut Vec<u8>, value: Option<&[u8]>) {
        match value {
            Some(v) => {
                out.extend_from_slice(&(v.len() as i32).to_be_bytes());
                out.extend_from_slice(v);
            }
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }

    #[test]
    fn a_row_is_read_in_place() {
        let id = Uuid::now_v7();
        let mut row = Vec::new();
        row.extend_from_slice(&10i16.to_be_bytes());
        field(&mut row, Some(&42i64.to_be_bytes()));
        field(&mut row, Some(b"order-1"));
        field(&mut row, Some(&3i64.to_be_bytes()));
        field(&mut row, Some(id.as_bytes()));
        field(&mut row, Some(b"Placed"));
        field(&mut row, Some(&2i16.to_be_bytes()));
        field(&mut row, Some(b"{}"));
        field(&mut row, Some(&0i64.to_be_bytes()));
        field(&mut row, None);
        field(&mut row, Some(id.as_bytes()));
        let Parsed::Row(view, rest) = parse_tuple(&row).unwrap() else {
            panic!("a whole row")
        };
        assert!(rest.is_empty());
        assert_eq!((view.position, view.stream_id, view.version), (42, "order-1", 3));
        assert_eq!(
            (view.event_type, view.schema_version, view.payload),
            ("Placed", 2, &b"{}"[..])
        );
        assert_eq!(
            view.recorded_at,
            DateTime::parse_from_rfc3339("2000-01-01T00:00:00Z").unwrap()
        );
        assert_eq!((view.correlation_id, view.causation_id), (None, Some(id)));
        assert!(matches!(parse_tuple(&(-1i16).to_be_bytes()).unwrap(), Parsed::Trailer));
        assert!(matches!(
            parse_tuple(&row[..row.len() - 3]).unwrap(),
            Parsed::Incomplete
        ));
        let mut header = SIGNATURE.to_vec();
        header.extend_from_slice(&[0; 8]);
        assert_eq!(header_len(&header[..12]).unwrap(), None);
        assert_eq!(header_len(&header).unwrap(), Some(19));
        assert!(header_len(b"NOT A COPY STREAM").is_err());
    }
}
