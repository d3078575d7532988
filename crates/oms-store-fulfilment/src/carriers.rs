//! Carriers: which carrier and service ship a job (by the delivery method, then rate, then
//! transit time, from configuration), its tracking number, and the shipping label in ZPL
//! (the language of the thermal printers stores use) with a Code 128 barcode.

use serde::{Deserialize, Serialize};

use crate::domain::{Address, DeliveryMethod, Job, JobKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarrierService {
    pub carrier: String,
    /// The shipped method it serves: `standard`, `express` or `same_day`.
    pub service: DeliveryMethod,
    pub rate_minor: i64,
    pub transit_days: u32,
    /// Tracking numbers start with this.
    #[serde(default)]
    pub tracking_prefix: String,
}

/// The carriers a store can hand parcels to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Carriers {
    pub services: Vec<CarrierService>,
}

impl Default for Carriers {
    fn default() -> Self {
        let service = |carrier: &str, service, rate_minor, transit_days, prefix: &str| CarrierService {
            carrier: carrier.to_owned(),
            service,
            rate_minor,
            transit_days,
            tracking_prefix: prefix.to_owned(),
        };
        Self {
            services: vec![
                service("dhl", DeliveryMethod::Standard, 490, 2, "JJD"),
                service("dpd", DeliveryMethod::Standard, 450, 3, "DPD"),
                service("ups", DeliveryMethod::Express, 990, 1, "1Z"),
                service("courier", DeliveryMethod::SameDay, 1290, 0, "SD"),
            ],
        }
    }
}

impl Carriers {
    /// The service for a delivery method: the cheapest, then the fastest. A parcel for a
    /// pickup store or a locker goes standard.
    pub fn choose(&self, delivery_method: DeliveryMethod) -> Option<&CarrierService> {
        let wanted = match delivery_method {
            DeliveryMethod::Express | DeliveryMethod::SameDay => delivery_method,
            _ => DeliveryMethod::Standard,
        };
        self.services
            .iter()
            .filter(|s| s.service == wanted)
            .min_by_key(|s| (s.rate_minor, s.transit_days))
    }
}

/// A tracking number for the job's parcel: the carrier's prefix and 12 digits derived from
/// the job id (the same job always gets the same number).
pub fn tracking_number(service: &CarrierService, job_id: &str) -> String {
    let digits = xxhash_rust::xxh3::xxh3_64(job_id.as_bytes()) % 1_000_000_000_000;
    format!("{}{digits:012}", service.tracking_prefix)
}

/// A 4×6 inch label in ZPL: sender, recipient, service, tracking number as a Code 128
/// barcode and the order reference.
pub fn label(job: &Job, service: &CarrierService, tracking_number: &str) -> String {
    // A parcel for a pickup store or a locker bank goes there, whatever the customer's
    // address is.
    let pickup = |what: &str| Address {
        name: format!("{what} {} (pickup for {})", job.pickup_store_id, job.customer_name),
        ..Address::default()
    };
    let to = match job.kind {
        JobKind::ShipToLocker => pickup("Locker"),
        JobKind::ShipToStore => pickup("Store"),
        _ => job.ship_to.clone().unwrap_or_else(|| pickup("Store")),
    };
    let Address {
        name,
        lines,
        city,
        postal_code,
        country,
        ..
    } = to;
    let clean = |s: &str| s.replace(['^', '~'], " ");
    let mut zpl = String::new();
    zpl.push_str("^XA^CI28\n");
    zpl.push_str(&format!(
        "^FO40,40^A0N,30,30^FDFrom: {}^FS\n",
        clean(job.node_id.as_str())
    ));
    zpl.push_str(&format!(
        "^FO40,90^A0N,40,40^FD{} {}^FS\n",
        clean(&service.carrier.to_uppercase()),
        clean(&service.service.code().to_uppercase())
    ));
    zpl.push_str(&format!("^FO40,160^A0N,36,36^FD{}^FS\n", clean(&name)));
    let mut y = 205;
    for line in &lines {
        zpl.push_str(&format!("^FO40,{y}^A0N,32,32^FD{}^FS\n", clean(line)));
        y += 40;
    }
    zpl.push_str(&format!(
        "^FO40,{y}^A0N,32,32^FD{} {} {}^FS\n",
        clean(&postal_code),
        clean(&city),
        clean(&country)
    ));
    zpl.push_str(&format!("^FO40,520^BY3^BCN,160,Y,N,N^FD{tracking_number}^FS\n"));
    zpl.push_str(&format!(
        "^FO40,760^A0N,28,28^FDOrder {} / job {}^FS\n",
        clean(job.order_id.as_str()),
        clean(job.job_id.as_str())
    ));
    zpl.push_str(&format!(
        "^FO40,800^A0N,28,28^FD{} package(s), {} g^FS\n",
        job.packages, job.weight_grams
    ));
    zpl.push_str("^XZ\n");
    zpl
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cheapest_service_of_the_method_wins() {
        let carriers = Carriers::default();
        assert_eq!(carriers.choose(DeliveryMethod::Standard).unwrap().carrier, "dpd");
        assert_eq!(carriers.choose(DeliveryMethod::Express).unwrap().carrier, "ups");
        assert_eq!(carriers.choose(DeliveryMethod::SameDay).unwrap().carrier, "courier");
        assert_eq!(carriers.choose(DeliveryMethod::ShipToStore).unwrap().carrier, "dpd");
    }

    #[test]
    fn a_job_keeps_its_tracking_number() {
        let service = &Carriers::default().services[0];
        let first = tracking_number(service, "order-1/1.0/store-a");
        assert_eq!(first, tracking_number(service, "order-1/1.0/store-a"));
        assert!(first.starts_with("JJD") && first.len() == 15, "{first}");
    }
}
