//! Delivery options before checkout: for the lines in a basket and where they go, each way
//! the customer can get them — standard, express or same-day shipping with cost and
//! expected date, or pickup at a nearby store with the time it is ready — from the stock
//! nodes can promise, their capabilities and capacity, carrier transit times and cut-offs.

use chrono::{DateTime, Utc};

use super::plan::{CapacityUsage, StockLevels};
use super::{Address, DeliveryMethod, GeoPoint, LocationId, Network, Node, ShippingService, Sku, promise};

/// How far pickup stores are looked for when the request names no radius.
pub const DEFAULT_PICKUP_RADIUS_KM: f64 = 25.0;
/// Pickup options offered at most.
const PICKUP_OPTIONS: usize = 5;

#[derive(Debug, Clone, PartialEq)]
pub struct QuoteRequest {
    /// (SKU, quantity).
    pub lines: Vec<(Sku, i64)>,
    pub destination: Option<Address>,
    pub pickup_radius_km: f64,
    /// The basket's currency, for free options; empty: the carriers'.
    pub currency: String,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryOption {
    pub method: DeliveryMethod,
    pub node_ids: Vec<LocationId>,
    pub cost_minor: i64,
    pub currency: String,
    pub expected_at: Option<DateTime<Utc>>,
    /// Empty for shipped methods.
    pub pickup_location_id: LocationId,
    pub ready_by: Option<DateTime<Utc>>,
    pub distance_km: Option<f64>,
    pub carrier: String,
}

/// Every option the basket can be had by, fastest first within each method.
pub fn quote(
    network: &Network,
    request: &QuoteRequest,
    stock: &dyn StockLevels,
    capacity: &dyn CapacityUsage,
) -> Vec<DeliveryOption> {
    let basket = Basket::of(network, request, stock);
    let point = request.destination.as_ref().and_then(|a| a.location);
    let open = |node: &Node| is_open(node, request.now, capacity);
    let mut options: Vec<DeliveryOption> = [
        (DeliveryMethod::Standard, ShippingService::Standard),
        (DeliveryMethod::Express, ShippingService::Express),
        (DeliveryMethod::SameDay, ShippingService::SameDay),
    ]
    .into_iter()
    .filter_map(|(method, service)| shipped(network, request, &basket, &open, point, method, service))
    .collect();
    if let Some(point) = point {
        options.extend(pickups(network, request, &basket, &open, point));
    }
    options
}

/// Units each node can promise of each SKU of the basket.
struct Basket<'a> {
    request: &'a QuoteRequest,
    /// Per (node, line), filled from the sparse stock levels.
    available: Vec<i64>,
}

impl<'a> Basket<'a> {
    fn of(network: &Network, request: &'a QuoteRequest, stock: &dyn StockLevels) -> Self {
        let width = request.lines.len();
        let mut available = vec![0i64; network.nodes().len() * width];
        for (j, (sku, _)) in request.lines.iter().enumerate() {
            stock.visit(sku.as_str(), &mut |node, units| {
                if let Some(i) = network.index_of(node) {
                    available[i * width + j] = units;
                }
            });
        }
        Self { request, available }
    }

    /// Whether node `i` has every line of the basket (all lines of a SKU together).
    fn all_at(&self, i: usize) -> bool {
        let lines = &self.request.lines;
        lines.iter().enumerate().all(|(j, (sku, _))| {
            let wanted: i64 = lines.iter().filter(|(s, _)| s == sku).map(|(_, q)| q).sum();
            self.available[i * lines.len() + j] >= wanted
        })
    }
}

/// A node that takes orders today: active, with capacity left on its local day.
fn is_open(node: &Node, now: DateTime<Utc>, capacity: &dyn CapacityUsage) -> bool {
    node.active && {
        let (day, _) = promise::local(node, now);
        node.capacity.per_day == 0 || capacity.used(node.node_id.as_str(), day) < node.capacity.per_day
    }
}

fn distance(node: &Node, point: Option<GeoPoint>) -> Option<f64> {
    match (&node.location, &point) {
        (Some(a), Some(b)) => Some(a.distance_km(b)),
        _ => None,
    }
}

/// The best node to ship the whole basket by `method`: the earliest delivery, then the
/// cheapest, then the nearest. Same-day only within the node's radius.
fn shipped(
    network: &Network,
    request: &QuoteRequest,
    basket: &Basket<'_>,
    open: &dyn Fn(&Node) -> bool,
    point: Option<GeoPoint>,
    method: DeliveryMethod,
    service: ShippingService,
) -> Option<DeliveryOption> {
    let (node, d, expected, carrier) = network
        .nodes()
        .iter()
        .enumerate()
        .filter(|(i, node)| node.capabilities.ship && open(node) && basket.all_at(*i))
        .filter_map(|(_, node)| {
            let d = distance(node, point);
            if method == DeliveryMethod::SameDay {
                let radius = node.capabilities.same_day_radius_km;
                if radius <= 0.0 || d.is_none_or(|d| d > radius) {
                    return None;
                }
            }
            let expected = promise::expected_at(node, method, request.now)?;
            let carrier = node.carrier(service);
            if carrier.is_none() && service != ShippingService::Standard {
                return None;
            }
            Some((node, d, expected, carrier))
        })
        .min_by(|a, b| {
            a.2.cmp(&b.2)
                .then(a.3.map_or(0, |c| c.rate_minor).cmp(&b.3.map_or(0, |c| c.rate_minor)))
                .then(a.1.unwrap_or(f64::INFINITY).total_cmp(&b.1.unwrap_or(f64::INFINITY)))
        })?;
    Some(DeliveryOption {
        method,
        node_ids: vec![node.node_id.clone()],
        cost_minor: carrier.map_or(0, |c| c.rate_minor),
        currency: carrier.map(|c| c.currency.clone()).unwrap_or_default(),
        expected_at: Some(expected),
        pickup_location_id: LocationId::default(),
        ready_by: None,
        distance_km: d,
        carrier: carrier.map(|c| c.carrier.clone()).unwrap_or_default(),
    })
}

/// Click & collect and curbside at the nearest stores within the pickup radius that have
/// the whole basket, free, ready after their handling time.
fn pickups(
    network: &Network,
    request: &QuoteRequest,
    basket: &Basket<'_>,
    open: &dyn Fn(&Node) -> bool,
    point: GeoPoint,
) -> Vec<DeliveryOption> {
    let radius = if request.pickup_radius_km > 0.0 {
        request.pickup_radius_km
    } else {
        DEFAULT_PICKUP_RADIUS_KM
    };
    let mut stores: Vec<(&Node, f64)> = network
        .nodes()
        .iter()
        .enumerate()
        .filter(|(i, node)| {
            (node.capabilities.click_and_collect || node.capabilities.curbside) && open(node) && basket.all_at(*i)
        })
        .filter_map(|(_, node)| distance(node, Some(point)).filter(|d| *d <= radius).map(|d| (node, d)))
        .collect();
    stores.sort_by(|a, b| a.1.total_cmp(&b.1));
    let currency = pickup_currency(network, request);
    let mut options = Vec::new();
    for (node, d) in stores.into_iter().take(PICKUP_OPTIONS) {
        let ready = promise::ready_by(node, request.now);
        for (method, offered) in [
            (DeliveryMethod::ClickAndCollect, node.capabilities.click_and_collect),
            (DeliveryMethod::Curbside, node.capabilities.curbside),
        ] {
            if offered {
                options.push(DeliveryOption {
                    method,
                    node_ids: vec![node.node_id.clone()],
                    cost_minor: 0,
                    currency: currency.clone(),
                    expected_at: Some(ready),
                    pickup_location_id: node.node_id.clone(),
                    ready_by: Some(ready),
                    distance_km: Some(d),
                    carrier: String::new(),
                });
            }
        }
    }
    options
}

/// Free, in the basket's currency (or the one the network's carriers charge in).
fn pickup_currency(network: &Network, request: &QuoteRequest) -> String {
    if request.currency.is_empty() {
        network
            .nodes()
            .iter()
            .flat_map(|n| n.carriers.iter())
            .map(|c| c.currency.clone())
            .find(|c| !c.is_empty())
            .unwrap_or_default()
    } else {
        request.currency.clone()
    }
}
