//! The operator's command, `oms`: the whole OMS in one process on the embedded default
//! ([`embedded`]), sample data ([`seed`]), a simulated omnichannel day against a running
//! system ([`simulate`]), and replay-and-verify of every service's log ([`verify`]).

pub mod embedded;
pub mod seed;
pub mod simulate;
pub mod verify;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tonic::transport::Channel;

/// A gRPC channel to `addr`, waiting up to 30 s for it to answer.
pub async fn grpc_channel(addr: SocketAddr) -> anyhow::Result<Channel> {
    let url = format!("http://{addr}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match Channel::from_shared(url.clone())?.connect().await {
            Ok(channel) => return Ok(channel),
            Err(e) if Instant::now() > deadline => {
                anyhow::bail!("nothing answers at {url} ({e}): is the OMS running? Start it with `oms run`")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
