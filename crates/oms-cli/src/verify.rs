//! Replay and verify: each service's state rebuilt from its whole log is compared with the
//! state rebuilt from its newest snapshot plus the tail — what every start does. A
//! difference means a snapshot or an `evolve` that does not give the same state twice.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use oms_eventsourcing::replay::{ReplayOptions, rebuild};
use oms_eventsourcing::{EventStore, Model, StoreConfig};

/// One service's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub service: &'static str,
    pub events: u64,
    pub matches: bool,
    pub detail: String,
}

async fn verify_model<M: Model>(service: &'static str, store: &EventStore, progress: bool) -> anyhow::Result<Verdict> {
    let until = store.last_position().await?;
    let bar = if progress {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{msg:<22} [{bar:40}] {pos}/{len} events")
            .map_err(|e| anyhow::anyhow!(e))?
            .progress_chars("=> "),
    );
    bar.set_message(format!("{service}: full log"));
    let started = Instant::now();
    let full = rebuild::<M>(
        store,
        ReplayOptions {
            use_snapshot: false,
            until: Some(until),
        },
        |p| {
            bar.set_length(u64::try_from(p.to - p.from).unwrap_or(0));
            bar.set_position(u64::try_from(p.at - p.from).unwrap_or(0));
        },
    )
    .await?;
    bar.set_message(format!("{service}: snapshot + tail"));
    let from_snapshot = rebuild::<M>(
        store,
        ReplayOptions {
            use_snapshot: true,
            until: Some(until),
        },
        |_| {},
    )
    .await?;
    bar.finish_and_clear();
    let (a, b) = (full.0.digest(), from_snapshot.0.digest());
    Ok(Verdict {
        service,
        events: full.1.events_applied,
        matches: a == b,
        detail: format!(
            "{} events in {:.2} s; digest {a}{}",
            full.1.events_applied,
            started.elapsed().as_secs_f64(),
            match from_snapshot.1.snapshot_position {
                Some(at) if a == b => format!(", equal from the snapshot at {at}"),
                Some(at) => format!(", but {b} from the snapshot at {at}"),
                None => ", no snapshot yet".to_owned(),
            }
        ),
    })
}

/// Verifies the five services whose stores `store_of(service)` names.
pub async fn verify_all(
    store_of: impl Fn(&str) -> anyhow::Result<StoreConfig>,
    progress: bool,
) -> anyhow::Result<Vec<Verdict>> {
    let mut verdicts = Vec::new();
    macro_rules! check {
        ($service:literal, $name:literal, $model:ty) => {{
            let store = EventStore::connect(&store_of($name)?).await.map_err(|e| {
                anyhow::anyhow!(
                    "cannot open the {} store: {e}; is --data-dir (or --store-url) right?",
                    $service
                )
            })?;
            verdicts.push(verify_model::<$model>($service, &store, progress).await?);
        }};
    }
    check!("order capture", "orders", oms_order_capture::domain::Orders);
    check!("inventory ledger", "inventory", oms_inventory_ledger::domain::Ledger);
    check!("routing", "routing", oms_routing::domain::Routing);
    check!(
        "store fulfilment",
        "fulfilment",
        oms_store_fulfilment::domain::Fulfilment
    );
    check!("returns", "returns", oms_returns::domain::Returns);
    Ok(verdicts)
}
