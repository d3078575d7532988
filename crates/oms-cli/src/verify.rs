//! Replay and verify: each service's state rebuilt from its whole log is compared with the
//! state rebuilt from its newest snapshot plus the tail — what every start does — or, with
//! the services running, with the live state each one reports between two batches. A
//! difference means a snapshot or an `evolve` that does not give the same state twice.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use oms_eventsourcing::replay::{ReplayOptions, ReplayReport, Replayed, rebuild};
use oms_eventsourcing::{EventStore, Model, Position, StoreConfig};
use oms_proto::admin::v1::GetStateDigestRequest;
use oms_proto::admin::v1::admin_client::AdminClient;

use crate::embedded::Addrs;

/// How long a busy service is asked again for a state between two batches.
const BUSY_FOR: Duration = Duration::from_secs(10);

/// One service's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub service: &'static str,
    pub events: u64,
    pub matches: bool,
    pub detail: String,
}

fn progress_bar(progress: bool) -> anyhow::Result<ProgressBar> {
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
    Ok(bar)
}

/// The state rebuilt from the whole log up to `until`, showing progress on `bar`.
async fn full_replay<M: Model>(
    store: &EventStore,
    until: Position,
    bar: &ProgressBar,
) -> anyhow::Result<(Replayed<M>, ReplayReport)> {
    let options = ReplayOptions {
        use_snapshot: false,
        until: Some(until),
    };
    Ok(rebuild::<M>(store, options, |p| {
        bar.set_length(u64::try_from(p.to - p.from).unwrap_or(0));
        bar.set_position(u64::try_from(p.at - p.from).unwrap_or(0));
    })
    .await?)
}

async fn verify_model<M: Model>(service: &'static str, store: &EventStore, progress: bool) -> anyhow::Result<Verdict> {
    let until = store.last_position().await?;
    let bar = progress_bar(progress)?;
    bar.set_message(format!("{service}: full log"));
    let started = Instant::now();
    let full = full_replay::<M>(store, until, &bar).await?;
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

/// The live state of the service at `addr`, taken between two batches, against its log
/// replayed up to the position that state holds.
async fn verify_live_model<M: Model>(
    service: &'static str,
    store: &EventStore,
    addrs: &Addrs,
    addr: SocketAddr,
    progress: bool,
) -> anyhow::Result<Verdict> {
    let mut admin = AdminClient::new(addrs.channel(addr).await?);
    let deadline = Instant::now() + BUSY_FOR;
    let live = loop {
        let answer = admin
            .get_state_digest(GetStateDigestRequest {})
            .await
            .map_err(|e| anyhow::anyhow!("{service} at {addr} does not give its state: {}", e.message()))?
            .into_inner();
        anyhow::ensure!(
            answer.model == M::NAME,
            "{addr} runs {}, not {service}: are --host and --base-port right?",
            answer.model
        );
        if answer.at_rest {
            break answer;
        }
        if Instant::now() >= deadline {
            return Ok(Verdict {
                service,
                events: 0,
                matches: false,
                detail: format!(
                    "not compared: a batch was being committed at every look for {} s; try again when it is quieter",
                    BUSY_FOR.as_secs()
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let bar = progress_bar(progress)?;
    bar.set_message(format!("{service}: log to live"));
    let started = Instant::now();
    let (rebuilt, report) = full_replay::<M>(store, live.position, &bar).await?;
    bar.finish_and_clear();
    let rebuilt = rebuilt.digest().to_string();
    let matches = rebuilt == live.digest;
    Ok(Verdict {
        service,
        events: report.events_applied,
        matches,
        detail: format!(
            "{} events to position {} in {:.2} s; digest {rebuilt}{}",
            report.events_applied,
            live.position,
            started.elapsed().as_secs_f64(),
            if matches {
                ", equal to the live state".to_owned()
            } else {
                format!(", but {} live", live.digest)
            }
        ),
    })
}

/// Verifies the five services whose stores `store_of(service)` names: stopped, their logs
/// against their snapshots; with `live`, where they run, their live states against their
/// logs.
pub async fn verify_all(
    store_of: impl Fn(&str) -> anyhow::Result<StoreConfig>,
    live: Option<&Addrs>,
    progress: bool,
) -> anyhow::Result<Vec<Verdict>> {
    let mut verdicts = Vec::new();
    macro_rules! check {
        ($service:literal, $name:literal, $addr:ident, $model:ty) => {{
            let store = EventStore::connect(&store_of($name)?).await.map_err(|e| {
                anyhow::anyhow!(
                    "cannot open the {} store: {e}; is --data-dir (or --store-url) right?",
                    $service
                )
            })?;
            verdicts.push(match live {
                Some(addrs) => verify_live_model::<$model>($service, &store, addrs, addrs.$addr, progress).await?,
                None => verify_model::<$model>($service, &store, progress).await?,
            });
        }};
    }
    check!("order capture", "orders", orders, oms_order_capture::domain::Orders);
    check!(
        "inventory ledger",
        "inventory",
        ledger,
        oms_inventory_ledger::domain::Ledger
    );
    check!("routing", "routing", routing, oms_routing::domain::Routing);
    check!(
        "store fulfilment",
        "fulfilment",
        fulfilment,
        oms_store_fulfilment::domain::Fulfilment
    );
    check!("returns", "returns", returns, oms_returns::domain::Returns);
    Ok(verdicts)
}
