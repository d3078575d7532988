//! TLS on a service's gRPC port and on its calls to other services (rustls): its
//! certificate and key; optionally the CA whose client certificates it verifies (mTLS
//! between services); the CA that signs the other services' certificates.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// A service's TLS, as its flags give it.
#[derive(Debug, Clone, Default)]
pub struct Tls {
    /// The port serves TLS with this.
    pub server: Option<ServerTlsConfig>,
    /// Calls to `https://` URLs use this.
    pub client: Option<ClientTlsConfig>,
}

/// How a service process speaks TLS.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(skip)]
pub struct TlsArgs {
    /// The service's certificate chain (PEM): its port serves TLS. With
    /// --tls-client-ca-file, also the certificate it shows when it calls another service.
    #[arg(long, env = "OMS_TLS_CERT_FILE", requires = "tls_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    /// The private key of --tls-cert-file (PEM).
    #[arg(long, env = "OMS_TLS_KEY_FILE", requires = "tls_cert_file")]
    pub tls_key_file: Option<PathBuf>,
    /// Verify the client certificates callers show against this CA (PEM): mutual TLS
    /// between services. Callers without one are still served (their token decides).
    #[arg(long, env = "OMS_TLS_CLIENT_CA_FILE", requires = "tls_cert_file")]
    pub tls_client_ca_file: Option<PathBuf>,
    /// With --tls-client-ca-file: refuse a connection without a client certificate.
    #[arg(long, env = "OMS_TLS_REQUIRE_CLIENT_CERT", requires = "tls_client_ca_file")]
    pub tls_require_client_cert: bool,
    /// The CA that signs the other services' certificates (PEM), for the `https://` URLs
    /// this service calls (--ledger-url, --orders-url).
    #[arg(long, env = "OMS_TLS_CA_FILE")]
    pub tls_ca_file: Option<PathBuf>,
}

impl TlsArgs {
    pub fn tls(&self) -> anyhow::Result<Tls> {
        let identity = match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(cert), Some(key)) => Some(Identity::from_pem(read(cert)?, read(key)?)),
            _ => None,
        };
        let server = identity.clone().map(|identity| {
            let config = ServerTlsConfig::new().identity(identity);
            match &self.tls_client_ca_file {
                Some(ca) => read(ca).map(|ca| {
                    config
                        .client_ca_root(Certificate::from_pem(ca))
                        .client_auth_optional(!self.tls_require_client_cert)
                }),
                None => Ok(config),
            }
        });
        let client = self.tls_ca_file.as_ref().map(|ca| {
            read(ca).map(|ca| {
                let config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
                // A service with a certificate shows it when it calls (mutual TLS).
                match &identity {
                    Some(identity) => config.identity(identity.clone()),
                    None => config,
                }
            })
        });
        Ok(Tls {
            server: server.transpose()?,
            client: client.transpose()?,
        })
    }
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}
