//! Why a request or a message is refused, field by field: every field that is wrong, each
//! named by its path in the contract (`lines[2].quantity`), so a caller fixes them all at
//! once. The gRPC layer turns them into `INVALID_ARGUMENT` with `google.rpc.BadRequest`
//! details; a consumer into the reason of a dead letter.

use std::fmt;

/// One wrong field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The field's path in the contract, e.g. `lines[2].quantity`.
    pub field: String,
    pub description: String,
}

/// Every wrong field of one request or message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations(Vec<Violation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    /// `field` is wrong: `description` says how.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(Violation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// Adds a violation when `bad` holds.
    pub fn check(&mut self, bad: bool, field: impl Into<String>, description: impl Into<String>) {
        if bad {
            self.add(field, description);
        }
    }

    /// `field` is required: adds a violation when it is blank.
    pub fn require(&mut self, value: &str, field: impl Into<String>) {
        self.check(value.trim().is_empty(), field, "is required");
    }

    /// Takes in `other`'s violations as they are.
    pub fn extend(&mut self, other: Violations) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Violation> {
        self.0.iter()
    }

    /// `Ok` when there are none, else `INVALID_ARGUMENT` listing them all (in the message,
    /// and as `google.rpc.BadRequest` details).
    pub fn into_result(self) -> Result<(), tonic::Status> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.into_status())
        }
    }

    /// The gRPC refusal: `INVALID_ARGUMENT` listing every field.
    pub fn into_status(self) -> tonic::Status {
        use tonic_types::{ErrorDetails, StatusExt};
        let message = self.to_string();
        let details = ErrorDetails::with_bad_request(
            self.0
                .into_iter()
                .map(|v| tonic_types::FieldViolation::new(v.field, v.description))
                .collect::<Vec<_>>(),
        );
        tonic::Status::with_error_details(tonic::Code::InvalidArgument, message, details)
    }

    /// `Ok(value)` when there are none.
    pub fn or_ok<T>(self, value: T) -> Result<T, Violations> {
        if self.is_empty() { Ok(value) } else { Err(self) }
    }
}

impl IntoIterator for Violations {
    type Item = Violation;
    type IntoIter = std::vec::IntoIter<Violation>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl FromIterator<(String, String)> for Violations {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(field, description)| Violation { field, description })
                .collect(),
        )
    }
}

/// `lines[0].quantity: must be greater than 0; location_id: is required`
impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", v.field, v.description)?;
        }
        Ok(())
    }
}

impl std::error::Error for Violations {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_violation_is_told_in_order() {
        let mut bad = Violations::new();
        bad.check(true, "lines[0].quantity", "must be greater than 0");
        bad.check(false, "sku", "is required");
        bad.require(" ", "location_id");
        assert_eq!(
            bad.to_string(),
            "lines[0].quantity: must be greater than 0; location_id: is required"
        );
        assert_eq!(bad.clone().or_ok(()), Err(bad));
        assert_eq!(Violations::new().or_ok(7), Ok(7));
    }
}
