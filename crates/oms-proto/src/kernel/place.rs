//! Places: postal addresses and points on the earth.

use serde::{Deserialize, Serialize};

use super::Violations;
use crate::common::v1 as pb;

/// A point on the earth, WGS 84.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    pub latitude: f64,
    pub longitude: f64,
}

impl GeoPoint {
    /// Great-circle distance in kilometres (haversine, mean earth radius).
    pub fn distance_km(&self, other: &GeoPoint) -> f64 {
        const EARTH_RADIUS_KM: f64 = 6371.0088;
        let (lat1, lat2) = (self.latitude.to_radians(), other.latitude.to_radians());
        let d_lat = lat2 - lat1;
        let d_lon = (other.longitude - self.longitude).to_radians();
        let a = (d_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (d_lon / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
    }

    pub fn is_valid(&self) -> bool {
        (-90.0..=90.0).contains(&self.latitude) && (-180.0..=180.0).contains(&self.longitude)
    }

    /// Every coordinate out of range, under `field`.
    pub fn check(&self, field: &str, bad: &mut Violations) {
        bad.check(
            !(-90.0..=90.0).contains(&self.latitude),
            format!("{field}.latitude"),
            "must be between -90 and 90",
        );
        bad.check(
            !(-180.0..=180.0).contains(&self.longitude),
            format!("{field}.longitude"),
            "must be between -180 and 180",
        );
    }

    pub fn from_pb(point: &pb::GeoPoint) -> Self {
        Self {
            latitude: point.latitude,
            longitude: point.longitude,
        }
    }

    pub fn to_pb(self) -> pb::GeoPoint {
        pb::GeoPoint {
            latitude: self.latitude,
            longitude: self.longitude,
        }
    }
}

/// A postal address, and where it is when known.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub name: String,
    pub lines: Vec<String>,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, e.g. `DE`.
    pub country: String,
    pub phone: String,
    pub email: String,
    pub location: Option<GeoPoint>,
}

impl Address {
    pub fn from_pb(address: &pb::Address) -> Self {
        Self {
            name: address.name.clone(),
            lines: address.lines.clone(),
            city: address.city.clone(),
            region: address.region.clone(),
            postal_code: address.postal_code.clone(),
            country: address.country.clone(),
            phone: address.phone.clone(),
            email: address.email.clone(),
            location: address.location.as_ref().map(GeoPoint::from_pb),
        }
    }

    pub fn to_pb(&self) -> pb::Address {
        pb::Address {
            name: self.name.clone(),
            lines: self.lines.clone(),
            city: self.city.clone(),
            region: self.region.clone(),
            postal_code: self.postal_code.clone(),
            country: self.country.clone(),
            phone: self.phone.clone(),
            email: self.email.clone(),
            location: self.location.map(GeoPoint::to_pb),
        }
    }

    /// Every missing or wrong part of an address a parcel is sent to, under `field`.
    pub fn check(&self, field: &str, bad: &mut Violations) {
        bad.check(
            self.lines.iter().all(|l| l.trim().is_empty()),
            format!("{field}.lines"),
            "at least one address line is required",
        );
        bad.require(&self.city, format!("{field}.city"));
        bad.require(&self.postal_code, format!("{field}.postal_code"));
        bad.check(
            self.country.len() != 2 || !self.country.chars().all(|c| c.is_ascii_uppercase()),
            format!("{field}.country"),
            "must be an ISO 3166-1 alpha-2 code, e.g. DE",
        );
        if let Some(location) = &self.location {
            location.check(&format!("{field}.location"), bad);
        }
    }

    /// `DE-BE` (or `DE` without a region), which rule sets match by prefix.
    pub fn region_code(&self) -> String {
        if self.region.is_empty() {
            self.country.clone()
        } else {
            format!("{}-{}", self.country, self.region)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_round_trips_and_tells_every_wrong_part() {
        let pb = pb::Address {
            lines: vec![" ".into()],
            city: "Berlin".into(),
            country: "Germany".into(),
            location: Some(pb::GeoPoint {
                latitude: 91.0,
                longitude: 13.4,
            }),
            ..Default::default()
        };
        let address = Address::from_pb(&pb);
        assert_eq!(address.to_pb(), pb);
        let mut bad = Violations::new();
        address.check("shipping_address", &mut bad);
        assert_eq!(
            bad.to_string(),
            "shipping_address.lines: at least one address line is required; \
             shipping_address.postal_code: is required; \
             shipping_address.country: must be an ISO 3166-1 alpha-2 code, e.g. DE; \
             shipping_address.location.latitude: must be between -90 and 90"
        );
    }

    #[test]
    fn berlin_to_potsdam_is_about_27_km() {
        let berlin = GeoPoint {
            latitude: 52.5219,
            longitude: 13.4132,
        };
        let potsdam = GeoPoint {
            latitude: 52.3906,
            longitude: 13.0645,
        };
        let km = berlin.distance_km(&potsdam);
        assert!((26.0..28.5).contains(&km), "{km}");
    }
}
