//! `oms`: run the whole OMS in one process, or one service of it; simulate a day against
//! it; verify its logs.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use oms_cli::embedded::{Addrs, Embedded, EmbeddedConfig, Settings, Stores, Transport, system_clock};
use oms_cli::simulate::{SimulationConfig, simulate};
use oms_cli::token::TokenAction;
use oms_cli::verify::verify_all;
use oms_eventsourcing::StoreConfig;
use oms_service::Shutdown;
use oms_service::auth::LocalKey;
use oms_service::settings::{ConfigFile, ConfigFlag, effective, settings_of};
use oms_service::telemetry::{self, TelemetryConfig};
use tonic::transport::{Certificate, ClientTlsConfig};

/// The operator's command of the OMS.
#[derive(Debug, Parser)]
#[command(name = "oms", version)]
struct Cli {
    #[command(flatten)]
    config: ConfigFlag,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs all five services in this process on the embedded default: SQLite files in
    /// --data-dir and the in-process transport. APIs: order capture on the base port,
    /// then the inventory ledger, routing, store fulfilment and returns (50051-50055).
    Run(RunArgs),
    /// The configuration: every setting, its value and where the value comes from.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Runs one service as a process of its own on PostgreSQL (or SQLite) and Kafka, the
    /// way a deployment runs it; the same settings as the service's own binary.
    Serve {
        #[command(subcommand)]
        service: Service,
    },
    /// Simulates an omnichannel day against a running OMS and prints the figures.
    Simulate(SimulateArgs),
    /// Rebuilds every service's state from its whole log and compares it: with the services
    /// stopped, with the state rebuilt from the snapshot plus the tail (what a start does);
    /// with --live, with the state each running service holds.
    Verify(VerifyArgs),
    /// Bearer tokens: issues one signed with the local key, or makes a key for a deployment.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
}

/// Who the commands that call the APIs are.
#[derive(Debug, clap::Args)]
struct CallerArgs {
    /// The bearer token to call with (`oms token issue`); without it, an operator's
    /// token signed with the key in the data directory of `oms run`.
    #[arg(long, env = "OMS_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Call the APIs over TLS, trusting this CA (PEM) for their certificates.
    #[arg(long = "api-ca-file", env = "OMS_API_CA_FILE")]
    api_ca_file: Option<PathBuf>,
}

impl CallerArgs {
    /// The APIs at `host` and `base_port`, called as these arguments say.
    fn addrs(&self, host: &str, base_port: u16, data_dir: &std::path::Path) -> anyhow::Result<Addrs> {
        let (identity, key) = oms_cli::token::identity(self.token.clone(), data_dir)?;
        let mut addrs = Addrs::on(host, base_port, identity)?;
        addrs.key = key;
        if let Some(ca) = &self.api_ca_file {
            let pem = std::fs::read(ca).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", ca.display()))?;
            addrs.tls = Some(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)));
        }
        Ok(addrs)
    }
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    #[arg(long, env = "OMS_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    #[arg(long, default_value_t = 50051)]
    base_port: u16,
    /// Load the example network, locations and a catalogue with stock.
    #[arg(long)]
    sample: bool,
    /// Without the sandbox WMS (ships every warehouse job) and payment gateway
    /// (confirms every refund).
    #[arg(long)]
    no_sandbox: bool,
    /// Run a simulated day against it once it is up (implies --sample), then keep running.
    #[arg(long)]
    simulate: bool,
    /// Every service's settings, under the names their own processes use.
    #[command(flatten)]
    settings: Settings,
}

#[derive(Debug, clap::Args)]
struct SimulateArgs {
    /// Where the APIs answer (order capture's port, the others on the next ones).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 50051)]
    base_port: u16,
    #[arg(long, default_value_t = 200)]
    orders: usize,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Seconds to wait for the orders to settle.
    #[arg(long, default_value_t = 180)]
    timeout_secs: u64,
    /// The data directory of the `oms run` it calls, whose key signs its token.
    #[arg(long, env = "OMS_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    #[command(flatten)]
    caller: CallerArgs,
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    /// The embedded mode's data directory.
    #[arg(long, env = "OMS_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// PostgreSQL instead (each service in its schema: orders, inventory, routing,
    /// fulfilment, returns), e.g. postgres://postgres@127.0.0.1/oms.
    #[arg(long)]
    store_url: Option<String>,
    /// Compare with the running services' live states (asked between two of their
    /// batches, over their admin API), replaying each log up to where that state is.
    #[arg(long)]
    live: bool,
    /// With --live: where the APIs answer (order capture's port, the others on the
    /// next ones).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 50051)]
    base_port: u16,
    #[command(flatten)]
    caller: CallerArgs,
}

#[derive(Debug, Subcommand)]
enum ConfigAction {
    /// Lists every setting of `oms run`, `oms serve` and the service binaries: its name in
    /// the configuration file, its variable, its value (secrets masked) and where the value
    /// comes from (environment, file, default).
    Show,
}

/// The service `oms serve` runs. Kafka is configured with OMS_KAFKA_* variables (see the
/// README); logs with RUST_LOG and OMS_LOG_FORMAT; span export with
/// OTEL_EXPORTER_OTLP_ENDPOINT.
#[derive(Debug, Subcommand)]
enum Service {
    /// Order capture: orders from every channel, one lifecycle, customer-service operations.
    OrderCapture(oms_order_capture::cli::Args),
    /// The inventory ledger: real-time stock of every SKU at every location.
    InventoryLedger(oms_inventory_ledger::cli::Args),
    /// Routing: which node fulfils each order, by rules that are data.
    Routing(oms_routing::cli::Args),
    /// Store fulfilment: store queues, staff steps, pickup, and warehouse/supplier jobs.
    StoreFulfilment(oms_store_fulfilment::cli::Args),
    /// Returns: return anywhere, inspect and restock, refund, exchanges.
    Returns(oms_returns::cli::Args),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: Cli = oms_service::settings::parse()?;
    // `oms serve` names its spans after the service it runs; the other commands are `oms`.
    let telemetry = || telemetry::init(&TelemetryConfig::from_env("oms"));
    match cli.command {
        Command::Serve { service } => match service {
            Service::OrderCapture(args) => oms_order_capture::cli::run(args).await,
            Service::InventoryLedger(args) => oms_inventory_ledger::cli::run(args).await,
            Service::Routing(args) => oms_routing::cli::run(args).await,
            Service::StoreFulfilment(args) => oms_store_fulfilment::cli::run(args).await,
            Service::Returns(args) => oms_returns::cli::run(args).await,
        },
        Command::Run(args) => {
            let _telemetry = telemetry()?;
            run(args).await
        }
        Command::Config {
            action: ConfigAction::Show,
        } => show_configuration(),
        Command::Simulate(args) => {
            let _telemetry = telemetry()?;
            let addrs = args.caller.addrs(&args.host, args.base_port, &args.data_dir)?;
            let config = SimulationConfig {
                orders: args.orders,
                concurrency: args.concurrency,
                seed: args.seed,
                timeout: Duration::from_secs(args.timeout_secs),
                ..SimulationConfig::default()
            };
            let kpis = simulate(&addrs, &config).await?;
            println!("{kpis}");
            Ok(())
        }
        Command::Verify(args) => {
            let _telemetry = telemetry()?;
            verify(args).await
        }
        Command::Token { action } => oms_cli::token::run(action),
    }
}

/// `oms run`: the whole OMS in this process until Ctrl-C or SIGTERM.
async fn run(args: RunArgs) -> anyhow::Result<()> {
    let key_dir = oms_cli::token::key_dir(&args.data_dir);
    let key = LocalKey::in_dir(&key_dir)?;
    let config = EmbeddedConfig {
        key: Some(key),
        stores: Stores::Sqlite(args.data_dir),
        transport: Transport::InProcess,
        host: args.host,
        base_port: args.base_port,
        sandbox: !args.no_sandbox,
        settings: args.settings,
    };
    let running = Embedded::start(config, system_clock()).await?;
    let a = running.addrs.clone();
    println!("OMS running on the embedded default:");
    println!("  order capture     {}  oms.orders.v1.OrderCapture", a.orders);
    println!("  inventory ledger  {}  oms.inventory.v1.InventoryLedger", a.ledger);
    println!("  routing           {}  oms.routing.v1.Routing", a.routing);
    println!(
        "  store fulfilment  {}  oms.fulfilment.v1.StoreFulfilment",
        a.fulfilment
    );
    println!("  returns           {}  oms.returns.v1.Returns", a.returns);
    println!(
        "Every call needs a bearer token, signed with {}; for example:",
        key_dir.join(oms_service::auth::keys::KEY_FILE).display()
    );
    println!(
        "  TOKEN=$(oms token issue --role operator --key-dir {})",
        key_dir.display()
    );
    println!(
        "  grpcurl -plaintext -H \"authorization: Bearer $TOKEN\" {} oms.routing.v1.Routing/ListNodes",
        a.routing
    );
    if args.sample || args.simulate {
        oms_cli::seed::seed(&a).await?;
        println!("sample network, locations and stock loaded");
    }
    if args.simulate {
        let kpis = simulate(&a, &SimulationConfig::default()).await?;
        println!("{kpis}");
    }
    println!("Ctrl-C stops it.");
    let shutdown = Shutdown::new();
    shutdown.on_signals();
    shutdown.wait().await;
    running.stop().await;
    println!("stopped");
    Ok(())
}

/// `oms verify`: every service's log replayed and compared, stopped or live.
async fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let store_of = |name: &str| -> anyhow::Result<StoreConfig> {
        Ok(match &args.store_url {
            Some(url) => {
                let sep = if url.contains('?') { '&' } else { '?' };
                StoreConfig::from_url(&format!("{url}{sep}schema={name}"), name)?
            }
            None => {
                let path = args.data_dir.join(format!("{name}.db"));
                anyhow::ensure!(
                    path.exists(),
                    "{} does not exist: pass the --data-dir of `oms run`, or --store-url",
                    path.display()
                );
                StoreConfig::from_url(&format!("sqlite://{}", path.display()), name)?
            }
        })
    };
    let addrs = if args.live {
        Some(args.caller.addrs(&args.host, args.base_port, &args.data_dir)?)
    } else {
        None
    };
    let verdicts = verify_all(store_of, addrs.as_ref(), true).await?;
    let mut all = true;
    for v in &verdicts {
        let verdict = if v.matches { "OK  " } else { "DIFF" };
        println!("{:<18} {verdict}  {}", v.service, v.detail);
        all &= v.matches;
    }
    if !all {
        anyhow::bail!("a rebuilt state differs or could not be compared: see above");
    }
    if args.live {
        println!("every service's log rebuilds to the state it holds live");
    } else {
        println!("every service's state rebuilds to the same digest");
    }
    Ok(())
}

/// `oms config show`: every setting of every command, its value without flags, and where
/// the value comes from; secrets masked.
fn show_configuration() -> anyhow::Result<()> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let file = ConfigFile::find(&args)?;
    match &file {
        Some(file) => println!("configuration file: {}", file.path.display()),
        None => println!(
            "configuration file: none ({} in this directory, OMS_CONFIG or --config)",
            oms_service::settings::DEFAULT_FILE
        ),
    }
    let row =
        |key: &str, value: &str, from: &str, used_by: &str| println!("{key:<36} {value:<40} {from:<12} {used_by}");
    row("setting (file key)", "value", "from", "used by");
    for setting in settings_of(&Cli::command()).values() {
        let (value, source) = effective(setting, file.as_ref());
        let used_by: Vec<&str> = setting.used_by.iter().map(|c| c.trim_start_matches("oms ")).collect();
        row(&setting.key, &value, source.name(), &used_by.join(", "));
    }
    // Librdkafka's properties come from the environment only.
    for (name, value) in std::env::vars().filter(|(k, _)| k.starts_with("OMS_KAFKA_")) {
        let key = name.trim_start_matches("OMS_").to_lowercase();
        let value = oms_service::settings::redact(&key, &value);
        row(&key, &value, "environment", "every service on Kafka");
    }
    println!(
        "Each is also a flag (--key-with-dashes) and a variable (OMS_KEY); a flag wins, then a variable, then the file."
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every subcommand's arguments are consistent (clap checks this only when a command
    /// is parsed in a debug build, so a clash would panic `oms run` at start).
    #[test]
    fn every_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
