//! Keys: the verifier of a port (the public keys of a JWKS file, an issuer, an audience),
//! and a local signing key for the embedded mode, tests and `oms token issue`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, OctetKeyPairParameters,
    OctetKeyPairType, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tonic::Status;

use super::{Caller, Claims, Role};

/// The issuer and audience tokens carry unless configured otherwise.
pub const DEFAULT_ISSUER: &str = "oms";
pub const DEFAULT_AUDIENCE: &str = "oms";

/// Seconds a token may be past its expiry (clocks of two machines disagree a little).
const LEEWAY_SECONDS: u64 = 30;

/// A set of public keys (a JWKS document), by key id.
pub struct Jwks {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
}

impl Jwks {
    /// Reads a JWKS document (`{"keys": [...]}`), as Keycloak, Auth0 or Entra ID publish
    /// them, or as `oms` writes for its local key. Keys without an id, or of a kind other
    /// than Ed25519 (EdDSA) and RSA (RS256), are refused.
    pub fn parse(json: &str) -> anyhow::Result<Self> {
        let set: JwkSet = serde_json::from_str(json).context("not a JWKS document ({\"keys\": [...]})")?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let kid = jwk.common.key_id.clone().context("a key without a \"kid\"")?;
            let algorithm = match &jwk.algorithm {
                AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                _ => anyhow::bail!("key {kid}: only Ed25519 (EdDSA) and RSA (RS256) keys are taken"),
            };
            let key = DecodingKey::from_jwk(jwk).with_context(|| format!("key {kid} cannot be read"))?;
            keys.insert(kid, (key, algorithm));
        }
        anyhow::ensure!(!keys.is_empty(), "the JWKS document holds no key");
        Ok(Self { keys })
    }

    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let json =
            std::fs::read_to_string(path).with_context(|| format!("cannot read the JWKS file {}", path.display()))?;
        Self::parse(&json).with_context(|| format!("the JWKS file {}", path.display()))
    }
}

/// Checks tokens: signed by one of its keys, for its issuer and audience, not expired.
pub struct Verifier {
    jwks: RwLock<Jwks>,
    /// Where the keys are fetched from again, when they come from an identity provider.
    remote: Option<Remote>,
    issuer: String,
    audience: String,
}

/// An identity provider's JWKS URL, fetched every [`REFETCH_EVERY`] and when a token names
/// a key not seen yet (the provider rotated its keys), at most every [`REFETCH_AT_MOST`].
struct Remote {
    url: String,
    client: reqwest::Client,
    fetched_at: Mutex<Instant>,
    fetching: AtomicBool,
}

const REFETCH_EVERY: Duration = Duration::from_secs(600);
const REFETCH_AT_MOST: Duration = Duration::from_secs(5);

impl Verifier {
    pub fn new(jwks: Jwks, issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            jwks: RwLock::new(jwks),
            remote: None,
            issuer: issuer.into(),
            audience: audience.into(),
        }
    }

    /// A verifier with the keys at `url` (an identity provider's JWKS, e.g.
    /// `https://login.example.com/realms/shop/protocol/openid-connect/certs`), fetched now
    /// and again while it runs.
    pub async fn fetching(url: &str, issuer: impl Into<String>, audience: impl Into<String>) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .context("an HTTPS client for the JWKS")?;
        let jwks = fetch(&client, url).await?;
        Ok(Self {
            jwks: RwLock::new(jwks),
            remote: Some(Remote {
                url: url.to_owned(),
                client,
                fetched_at: Mutex::new(Instant::now()),
                fetching: AtomicBool::new(false),
            }),
            issuer: issuer.into(),
            audience: audience.into(),
        })
    }

    /// Fetches the keys again in the background if they are due (`unknown_key`: a token
    /// named a key not among them).
    fn refresh_if_due(self: &Arc<Self>, unknown_key: bool) {
        let Some(remote) = &self.remote else { return };
        let age = remote
            .fetched_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .elapsed();
        let due = age >= REFETCH_EVERY || (unknown_key && age >= REFETCH_AT_MOST);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if !due || remote.fetching.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = Arc::clone(self);
        runtime.spawn(async move {
            let Some(remote) = &this.remote else { return };
            match fetch(&remote.client, &remote.url).await {
                Ok(jwks) => *this.jwks.write().unwrap_or_else(std::sync::PoisonError::into_inner) = jwks,
                Err(e) => tracing::warn!(
                    url = %remote.url,
                    error = %format!("{e:#}"),
                    "the JWKS could not be fetched again; the keys held are kept"
                ),
            }
            *remote
                .fetched_at
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
            remote.fetching.store(false, Ordering::Release);
        });
    }

    /// [`Verifier::verify`], fetching the keys again when they are due.
    pub fn verify_fresh(self: &Arc<Self>, token: &str) -> Result<Caller, Status> {
        let answer = self.verify(token);
        let unknown_key = answer.as_ref().is_err_and(|s| s.message().contains("does not trust"));
        self.refresh_if_due(unknown_key);
        answer
    }

    /// The caller a bearer token names, or `UNAUTHENTICATED` saying what is wrong with it.
    pub fn verify(&self, token: &str) -> Result<Caller, Status> {
        let bad = |what: String| Status::unauthenticated(format!("{what}; ask for a new token"));
        let header = jsonwebtoken::decode_header(token).map_err(|_| bad("the bearer token is not a JWT".into()))?;
        let kid = header.kid.ok_or_else(|| bad("the token names no key (kid)".into()))?;
        let jwks = self.jwks.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (key, algorithm) = jwks.keys.get(&kid).ok_or_else(|| {
            bad(format!(
                "the token is signed with key {kid}, which this service does not trust"
            ))
        })?;
        let mut validation = Validation::new(*algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|e| {
            bad(match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired".to_owned(),
                ErrorKind::InvalidIssuer => format!("the token was not issued by {}", self.issuer),
                ErrorKind::InvalidAudience => format!("the token is not meant for {}", self.audience),
                ErrorKind::InvalidSignature => format!("the token's signature does not match key {kid}"),
                ErrorKind::InvalidAlgorithm => format!("key {kid} signs with {algorithm:?}, not the token's algorithm"),
                ErrorKind::MissingRequiredClaim(claim) => format!("the token has no {claim:?} claim"),
                ErrorKind::Json(e) => format!("the token's claims cannot be read: {e}"),
                other => format!("the token cannot be verified: {other:?}"),
            })
        })?;
        Ok(Caller::of(&data.claims))
    }
}

/// The JWKS at `url`.
async fn fetch(client: &reqwest::Client, url: &str) -> anyhow::Result<Jwks> {
    let response = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("cannot fetch the JWKS at {url}"))?;
    anyhow::ensure!(
        response.status().is_success(),
        "the JWKS at {url} answered {}",
        response.status()
    );
    let body = response
        .text()
        .await
        .with_context(|| format!("cannot read the JWKS at {url}"))?;
    Jwks::parse(&body).with_context(|| format!("the JWKS at {url}"))
}

/// An Ed25519 key that signs tokens, kept in a directory: `signing-key.json` (secret,
/// readable by its owner only) and `jwks.json` (its public half, for the services).
#[derive(Clone)]
pub struct LocalKey {
    kid: String,
    seed: [u8; 32],
    issuer: String,
    audience: String,
}

impl std::fmt::Debug for LocalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    kid: String,
    /// The Ed25519 seed, base64url.
    ed25519_seed: String,
}

pub const KEY_FILE: &str = "signing-key.json";
pub const JWKS_FILE: &str = "jwks.json";

impl LocalKey {
    /// A new random key.
    pub fn generate() -> anyhow::Result<Self> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness for a key: {e}"))?;
        let mut id = [0u8; 6];
        getrandom::fill(&mut id).map_err(|e| anyhow::anyhow!("no randomness for a key id: {e}"))?;
        Ok(Self {
            kid: format!("oms-{}", URL_SAFE_NO_PAD.encode(id)),
            seed,
            issuer: DEFAULT_ISSUER.to_owned(),
            audience: DEFAULT_AUDIENCE.to_owned(),
        })
    }

    /// The key kept in `dir`, made there first if there is none.
    pub fn in_dir(dir: &Path) -> anyhow::Result<Self> {
        if dir.join(KEY_FILE).exists() {
            return Self::load(dir);
        }
        let key = Self::generate()?;
        key.save(dir)?;
        Ok(key)
    }

    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(KEY_FILE);
        let json = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let file: KeyFile =
            serde_json::from_str(&json).with_context(|| format!("{} is not a key file", path.display()))?;
        let seed: [u8; 32] = URL_SAFE_NO_PAD
            .decode(&file.ed25519_seed)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .with_context(|| format!("{} holds no Ed25519 seed", path.display()))?;
        Ok(Self {
            kid: file.kid,
            seed,
            issuer: DEFAULT_ISSUER.to_owned(),
            audience: DEFAULT_AUDIENCE.to_owned(),
        })
    }

    /// Writes the key (owner-only) and its JWKS into `dir`.
    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let file = KeyFile {
            kid: self.kid.clone(),
            ed25519_seed: URL_SAFE_NO_PAD.encode(self.seed),
        };
        let path = dir.join(KEY_FILE);
        write_private(&path, &serde_json::to_string_pretty(&file)?)?;
        let jwks = dir.join(JWKS_FILE);
        std::fs::write(&jwks, self.jwks_json()?).with_context(|| format!("cannot write {}", jwks.display()))?;
        Ok(())
    }

    /// Tokens of this key name `issuer` and `audience`.
    #[must_use]
    pub fn for_issuer(mut self, issuer: &str, audience: &str) -> Self {
        issuer.clone_into(&mut self.issuer);
        audience.clone_into(&mut self.audience);
        self
    }

    /// The public half, as a JWKS document.
    pub fn jwks_json(&self) -> anyhow::Result<String> {
        let public = ed25519_dalek::SigningKey::from_bytes(&self.seed).verifying_key();
        let jwk = Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::EdDSA),
                key_id: Some(self.kid.clone()),
                ..CommonParameters::default()
            },
            algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x: URL_SAFE_NO_PAD.encode(public.to_bytes()),
            }),
        };
        Ok(serde_json::to_string_pretty(&JwkSet { keys: vec![jwk] })?)
    }

    /// A verifier that trusts this key only.
    pub fn verifier(&self) -> anyhow::Result<Verifier> {
        Ok(Verifier::new(
            Jwks::parse(&self.jwks_json()?)?,
            self.issuer.clone(),
            self.audience.clone(),
        ))
    }

    /// A token for `subject` in `role`, acting for `stores`, `channels` and `nodes`,
    /// valid for `ttl`.
    pub fn issue(&self, subject: &str, role: Role, scope: ActsFor, ttl: Duration) -> anyhow::Result<String> {
        let now = unix_now();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: subject.to_owned(),
            iat: now,
            exp: now + ttl.as_secs(),
            role,
            stores: scope.stores,
            channels: scope.channels,
            nodes: scope.nodes,
        };
        self.sign(&claims)
    }

    /// Signs any claims (tests sign expired or foreign ones).
    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        let key = EncodingKey::from_ed_der(&pkcs8_of(&self.seed));
        Ok(jsonwebtoken::encode(&header, claims, &key)?)
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }
}

/// What a token acts for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActsFor {
    pub stores: Vec<String>,
    pub channels: Vec<String>,
    pub nodes: Vec<String>,
}

/// Mints tokens of one subject and role with a local key, an hour each, anew when the
/// one it holds has less than ten minutes left.
pub struct Minter {
    key: LocalKey,
    subject: String,
    role: Role,
    acts_for: ActsFor,
    current: Mutex<Option<(String, u64)>>,
}

impl Minter {
    pub fn new(key: LocalKey, subject: &str, role: Role, acts_for: ActsFor) -> Self {
        Self {
            key,
            subject: subject.to_owned(),
            role,
            acts_for,
            current: Mutex::new(None),
        }
    }

    pub fn token(&self) -> Result<String, Status> {
        let mut current = self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = unix_now();
        if let Some((token, exp)) = current.as_ref()
            && *exp > now + 600
        {
            return Ok(token.clone());
        }
        let ttl = Duration::from_secs(3600);
        let token = self
            .key
            .issue(&self.subject, self.role, self.acts_for.clone(), ttl)
            .map_err(|e| Status::internal(format!("cannot mint a token: {e}")))?;
        *current = Some((token.clone(), now + ttl.as_secs()));
        Ok(token)
    }
}

/// An Ed25519 seed as a PKCS#8 v1 document (RFC 8410): a fixed prefix, then the seed.
fn pkcs8_of(seed: &[u8; 32]) -> Vec<u8> {
    const PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
    ];
    let mut der = PREFIX.to_vec();
    der.extend_from_slice(seed);
    der
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Writes a secret: readable and writable by its owner only.
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(key: &LocalKey, exp_offset: i64) -> Claims {
        let now = unix_now();
        Claims {
            iss: key.issuer.clone(),
            aud: key.audience.clone(),
            sub: "tester".into(),
            iat: now,
            exp: now.saturating_add_signed(exp_offset),
            role: Role::StoreStaff,
            stores: vec!["S1".into()],
            channels: vec![],
            nodes: vec![],
        }
    }

    #[test]
    fn a_token_of_the_key_is_verified_and_names_its_caller() {
        let key = LocalKey::generate().unwrap();
        let token = key
            .issue(
                "ada",
                Role::StoreStaff,
                ActsFor {
                    stores: vec!["S1".into()],
                    ..ActsFor::default()
                },
                Duration::from_secs(60),
            )
            .unwrap();
        let caller = key.verifier().unwrap().verify(&token).unwrap();
        assert_eq!(caller.subject, "ada");
        assert_eq!(caller.role, Role::StoreStaff);
        assert!(caller.acts_for(super::super::Realm::Stores, "S1"));
        assert!(!caller.acts_for(super::super::Realm::Stores, "S2"));
    }

    #[test]
    fn expired_foreign_and_misaddressed_tokens_are_refused_with_the_reason() {
        let key = LocalKey::generate().unwrap();
        let verifier = key.verifier().unwrap();
        let refused = |token: &str| verifier.verify(token).unwrap_err();

        let expired = key.sign(&claims(&key, -3600)).unwrap();
        assert!(
            refused(&expired).message().contains("expired"),
            "{:?}",
            refused(&expired)
        );

        let other = LocalKey::generate().unwrap();
        let foreign = other.sign(&claims(&key, 60)).unwrap();
        assert!(refused(&foreign).message().contains("does not trust"));

        let mut wrong_issuer = claims(&key, 60);
        wrong_issuer.iss = "someone-else".into();
        let token = key.sign(&wrong_issuer).unwrap();
        assert!(refused(&token).message().contains("not issued by oms"));

        let mut wrong_audience = claims(&key, 60);
        wrong_audience.aud = "billing".into();
        let token = key.sign(&wrong_audience).unwrap();
        assert!(refused(&token).message().contains("not meant for oms"));

        assert!(refused("not-a-token").message().contains("not a JWT"));
        for status in [refused(&expired), refused("x")] {
            assert_eq!(status.code(), tonic::Code::Unauthenticated);
        }
    }

    /// An identity provider's JWKS endpoint over real HTTP, serving what `jwks` holds.
    async fn jwks_endpoint(jwks: Arc<Mutex<String>>) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let body = jwks.lock().unwrap().clone();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            }
        });
        format!("http://{addr}/realms/shop/protocol/openid-connect/certs")
    }

    #[tokio::test]
    async fn keys_from_a_provider_are_fetched_and_fetched_again_when_it_rotates_them() {
        let first = LocalKey::generate().unwrap();
        let served = Arc::new(Mutex::new(first.jwks_json().unwrap()));
        let url = jwks_endpoint(Arc::clone(&served)).await;
        let verifier = Arc::new(
            Verifier::fetching(&url, DEFAULT_ISSUER, DEFAULT_AUDIENCE)
                .await
                .unwrap(),
        );
        let token = |key: &LocalKey| {
            key.issue("ops", Role::Operator, ActsFor::default(), Duration::from_secs(60))
                .unwrap()
        };
        assert!(verifier.verify_fresh(&token(&first)).is_ok());

        // The provider rotates its key: a token of the new one is refused until it is
        // fetched, at most every few seconds, then taken.
        let second = LocalKey::generate().unwrap();
        *served.lock().unwrap() = second.jwks_json().unwrap();
        assert!(verifier.verify_fresh(&token(&second)).is_err());
        tokio::time::sleep(REFETCH_AT_MOST + Duration::from_millis(200)).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while verifier.verify_fresh(&token(&second)).is_err() {
            assert!(Instant::now() < deadline, "the rotated key was never fetched");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            verifier.verify(&token(&first)).is_err(),
            "the old key is gone with the rotation"
        );
    }

    #[tokio::test]
    async fn a_provider_that_does_not_answer_is_named_at_start() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/certs");
        let error = Verifier::fetching(&url, DEFAULT_ISSUER, DEFAULT_AUDIENCE)
            .await
            .err()
            .unwrap();
        assert!(format!("{error:#}").contains(&url), "{error:#}");
    }

    #[test]
    fn a_key_kept_in_a_directory_is_the_same_key_when_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let key = LocalKey::in_dir(dir.path()).unwrap();
        let again = LocalKey::in_dir(dir.path()).unwrap();
        let token = key
            .issue("ops", Role::Operator, ActsFor::default(), Duration::from_secs(60))
            .unwrap();
        let jwks = Jwks::load(&dir.path().join(JWKS_FILE)).unwrap();
        assert!(
            Verifier::new(jwks, DEFAULT_ISSUER, DEFAULT_AUDIENCE)
                .verify(&token)
                .is_ok()
        );
        assert!(again.verifier().unwrap().verify(&token).is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
