//! The operator's command, `oms`: the whole OMS in one process on the embedded default
//! ([`embedded`]), sample data ([`seed`]), a simulated omnichannel day against a running
//! system ([`simulate`]), and replay-and-verify of every service's log ([`verify`]).

pub mod embedded;
pub mod sandbox;
pub mod seed;
pub mod simulate;
pub mod token;
pub mod verify;

use std::net::SocketAddr;
use std::time::Duration;

use tonic::transport::Channel;

/// A gRPC channel to `addr`, waiting up to 30 s for it to answer.
pub async fn grpc_channel(addr: SocketAddr) -> anyhow::Result<Channel> {
    oms_service::grpc::channel_when_up(addr, Duration::from_secs(30))
        .await
        .map_err(|e| {
            anyhow::anyhow!("nothing answers at http://{addr} ({e}): is the OMS running? Start it with `oms run`")
        })
}
