//! Access control from outside, on the whole OMS with a signing key (as `oms run` starts
//! it): every method of the five services, read from the contracts' descriptors, called
//! with a token of every role; a caller without a good token is not let in; a store's
//! staff and a sales channel reach only what is theirs.
// A step that fails is the test failing.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use oms_cli::embedded::{Embedded, EmbeddedConfig, Settings, Stores, Transport, system_clock};
use oms_proto::fulfilment::v1 as fulfilment;
use oms_proto::orders::v1 as orders;
use oms_service::auth::keys::ActsFor;
use oms_service::auth::policy::{self, Grant, Scope};
use oms_service::auth::{Claims, LocalKey, Realm, Role};
use prost_reflect::{DescriptorPool, DynamicMessage, Kind, MethodDescriptor, ReflectMessage as _, Value};
use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

/// What a scoped token acts for, and what it does not.
const OWN: &str = "STORE-OWN";
const OTHER: &str = "STORE-OTHER";
const OWN_CHANNEL: &str = "web";
const OTHER_CHANNEL: &str = "marketplace";

struct Oms {
    running: Embedded,
    key: LocalKey,
    _dir: tempfile::TempDir,
}

impl Oms {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = LocalKey::generate().unwrap();
        let running = Embedded::start(
            EmbeddedConfig {
                stores: Stores::Sqlite(dir.path().to_path_buf()),
                transport: Transport::InProcess,
                host: IpAddr::V4(Ipv4Addr::LOCALHOST),
                base_port: 0,
                sandbox: false,
                settings: Settings::default(),
                key: Some(key.clone()),
            },
            system_clock(),
        )
        .await
        .expect("the OMS starts");
        Self {
            running,
            key,
            _dir: dir,
        }
    }

    /// Where the service of `method` answers.
    fn addr_of(&self, method: &MethodDescriptor) -> SocketAddr {
        let a = &self.running.addrs;
        match method.parent_service().full_name() {
            "oms.orders.v1.OrderCapture" => a.orders,
            "oms.inventory.v1.InventoryLedger" => a.ledger,
            "oms.routing.v1.Routing" => a.routing,
            "oms.fulfilment.v1.StoreFulfilment" => a.fulfilment,
            "oms.returns.v1.Returns" => a.returns,
            // Every port answers the admin API; the ledger's will do.
            "oms.admin.v1.Admin" => a.ledger,
            other => panic!("no port for {other}"),
        }
    }

    /// A token of `role` that acts for `OWN` everywhere (and the web channel).
    fn token(&self, role: Role, subject: &str) -> String {
        let acts_for = ActsFor {
            stores: vec![OWN.into()],
            channels: vec![OWN_CHANNEL.into()],
            nodes: vec![OWN.into()],
        };
        self.key
            .issue(subject, role, acts_for, Duration::from_secs(600))
            .unwrap()
    }
}

/// Every method of the OMS's own services, from the contracts' descriptors.
fn every_method() -> Vec<MethodDescriptor> {
    let pool = DescriptorPool::decode(oms_proto::FILE_DESCRIPTOR_SET).unwrap();
    let methods: Vec<MethodDescriptor> = pool
        .services()
        .filter(|s| s.full_name().starts_with("oms."))
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .collect();
    assert!(methods.len() >= 50, "{} methods", methods.len());
    methods
}

fn path_of(method: &MethodDescriptor) -> String {
    format!("/{}/{}", method.parent_service().full_name(), method.name())
}

/// Calls `method` with `request` and `token` (if any); the status it answers (`Ok` as
/// `Code::Ok`, whatever the service then said of the request's content).
async fn call(
    addr: SocketAddr,
    method: &MethodDescriptor,
    request: DynamicMessage,
    token: Option<&str>,
) -> tonic::Status {
    call_on(connect(addr).await, method, request, token).await
}

async fn connect(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// [`call`] on a channel already open.
async fn call_on(
    channel: Channel,
    method: &MethodDescriptor,
    request: DynamicMessage,
    token: Option<&str>,
) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let mut request = tonic::Request::new(request);
    if let Some(token) = token {
        let value: MetadataValue<_> = format!("Bearer {token}").parse().unwrap();
        request.metadata_mut().insert("authorization", value);
    }
    let path = path_of(method).parse().unwrap();
    let codec = tonic_prost::ProstCodec::<DynamicMessage, ()>::default();
    // Every method called as a stream: unary answers are a stream of one.
    // A stream that was let in stays open: what it said by then is its answer.
    let wait = if method.is_server_streaming() {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(10)
    };
    let answer = tokio::time::timeout(wait, async {
        match grpc.server_streaming(request, path, codec).await {
            Ok(response) => match response.into_inner().message().await {
                Ok(_) => tonic::Status::ok(""),
                Err(status) => status,
            },
            Err(status) => status,
        }
    })
    .await;
    answer.unwrap_or_else(|_| tonic::Status::ok("streaming"))
}

/// The request of `method` naming `value` wherever `path` points (a field of a repeated
/// message gets one element).
fn request_naming(method: &MethodDescriptor, path: Option<&str>, value: &str) -> DynamicMessage {
    let mut message = DynamicMessage::new(method.input());
    if let Some(path) = path {
        set(&mut message, &path.split('.').collect::<Vec<_>>(), value);
    }
    message
}

fn set(message: &mut DynamicMessage, path: &[&str], value: &str) {
    let (first, rest) = path.split_first().unwrap();
    let field = message.descriptor().get_field_by_name(first).unwrap();
    let leaf = |kind: &Kind| match kind {
        Kind::String => Value::String(value.to_owned()),
        Kind::Enum(e) => {
            let name = format!(
                "{}_{}",
                policy::screaming(e.name()),
                value.to_uppercase().replace('-', "_")
            );
            Value::EnumNumber(e.get_value_by_name(&name).unwrap().number())
        }
        other => panic!("a scope is a string or an enum, not {other:?}"),
    };
    let item = if rest.is_empty() {
        leaf(&field.kind())
    } else {
        let Kind::Message(inner) = field.kind() else {
            panic!("{first} is not a message")
        };
        let mut child = DynamicMessage::new(inner);
        set(&mut child, rest, value);
        Value::Message(child)
    };
    if field.is_list() {
        message.set_field(&field, Value::List(vec![item]));
    } else {
        message.set_field(&field, item);
    }
}

/// The grant of `role` (as `subject`) in `grants`, if any.
fn grant_of<'a>(grants: &'a [Grant], role: Role, subject: &str) -> Option<&'a Grant> {
    grants.iter().find(|g| match g {
        Grant::Role(r, _) => *r == role,
        Grant::Service(name) => role == Role::Service && *name == subject,
    })
}

fn scope_value(realm: Realm, own: bool) -> &'static str {
    match (realm, own) {
        (Realm::Channels, true) => OWN_CHANNEL,
        (Realm::Channels, false) => OTHER_CHANNEL,
        (_, true) => OWN,
        (_, false) => OTHER,
    }
}

#[test]
fn every_method_of_the_contracts_has_a_policy_and_every_policy_a_method() {
    let methods: Vec<String> = every_method().iter().map(path_of).collect();
    let missing: Vec<&String> = methods.iter().filter(|m| policy::grants_of(m).is_none()).collect();
    assert!(missing.is_empty(), "methods without an access policy: {missing:?}");
    for (service, method, _) in policy::POLICY {
        let path = format!("{service}{method}");
        assert!(methods.contains(&path), "a policy for {path}, which no contract has");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_calls_what_its_policy_grants_and_nothing_else() {
    let oms = Oms::start().await;
    let subjects = [("routing", Role::Service), ("returns", Role::Service)];
    let mut people: Vec<(&str, Role)> = Role::ALL
        .iter()
        .filter(|r| **r != Role::Service)
        .map(|r| (r.name(), *r))
        .collect();
    people.extend(subjects);
    let mut checked = 0;
    for method in every_method() {
        let path = path_of(&method);
        let grants = policy::grants_of(&path).unwrap();
        let channel = connect(oms.addr_of(&method)).await;
        for (subject, role) in &people {
            let token = oms.token(*role, subject);
            let who = format!("{} as {subject}", role.name());
            match grant_of(grants, *role, subject) {
                None => {
                    let status = call_on(
                        channel.clone(),
                        &method,
                        request_naming(&method, None, ""),
                        Some(&token),
                    )
                    .await;
                    assert_eq!(
                        status.code(),
                        Code::PermissionDenied,
                        "{who} calling {path}: {status:?}"
                    );
                }
                Some(Grant::Role(_, Scope::Field(realm, field))) => {
                    let own = request_naming(&method, Some(field), scope_value(*realm, true));
                    let status = call_on(channel.clone(), &method, own, Some(&token)).await;
                    assert_ne!(
                        status.code(),
                        Code::PermissionDenied,
                        "{who} calling {path} for its own: {status:?}"
                    );
                    assert_ne!(status.code(), Code::Unauthenticated, "{who} calling {path}: {status:?}");
                    let other = request_naming(&method, Some(field), scope_value(*realm, false));
                    let status = call_on(channel.clone(), &method, other, Some(&token)).await;
                    assert_eq!(
                        status.code(),
                        Code::PermissionDenied,
                        "{who} calling {path} for another: {status:?}"
                    );
                    assert!(status.message().contains("does not act for"), "{status:?}");
                }
                Some(_) => {
                    let status = call_on(
                        channel.clone(),
                        &method,
                        request_naming(&method, None, ""),
                        Some(&token),
                    )
                    .await;
                    assert_ne!(
                        status.code(),
                        Code::PermissionDenied,
                        "{who} calling {path}: {status:?}"
                    );
                    assert_ne!(status.code(), Code::Unauthenticated, "{who} calling {path}: {status:?}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 50 * 8, "{checked} calls");
    oms.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_an_expired_one_a_foreign_one_or_a_misaddressed_one_is_unauthenticated() {
    let oms = Oms::start().await;
    let method = every_method().into_iter().find(|m| m.name() == "ListNodes").unwrap();
    let addr = oms.addr_of(&method);
    let request = || request_naming(&method, None, "");
    let claims = |exp_offset: i64, iss: &str, aud: &str| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        Claims {
            iss: iss.into(),
            aud: aud.into(),
            sub: "ops".into(),
            iat: now,
            exp: now.saturating_add_signed(exp_offset),
            role: Role::Operator,
            stores: vec![],
            channels: vec![],
            nodes: vec![],
        }
    };
    let cases = [
        (None, "no bearer token"),
        (Some("garbage".to_owned()), "not a JWT"),
        (Some(oms.key.sign(&claims(-3600, "oms", "oms")).unwrap()), "expired"),
        (
            Some(oms.key.sign(&claims(600, "someone", "oms")).unwrap()),
            "not issued by oms",
        ),
        (
            Some(oms.key.sign(&claims(600, "oms", "billing")).unwrap()),
            "not meant for oms",
        ),
        (
            Some(LocalKey::generate().unwrap().sign(&claims(600, "oms", "oms")).unwrap()),
            "does not trust",
        ),
    ];
    for (token, says) in cases {
        let status = call(addr, &method, request(), token.as_deref()).await;
        assert_eq!(status.code(), Code::Unauthenticated, "{says}: {status:?}");
        assert!(status.message().contains(says), "{says}: {status:?}");
    }
    // A good one passes; health stays open to probes without any.
    let good = oms.key.sign(&claims(600, "oms", "oms")).unwrap();
    assert_eq!(call(addr, &method, request(), Some(&good)).await.code(), Code::Ok);
    let mut health = tonic_health::pb::health_client::HealthClient::new(
        Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap(),
    );
    health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("health answers without a token");
    oms.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sales_channel_reads_and_cancels_its_own_orders_and_a_store_works_its_own_jobs_only() {
    let oms = Oms::start().await;
    oms_cli::seed::seed(&oms.running.addrs).await.expect("the sample loads");
    let with = |token: String| {
        move |mut request: tonic::Request<()>| {
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
            Ok(request)
        }
    };
    let channel_of = |addr: SocketAddr| async move {
        Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap()
    };
    let web = oms
        .key
        .issue(
            "web-shop",
            Role::SalesChannel,
            ActsFor {
                channels: vec!["web".into()],
                ..ActsFor::default()
            },
            Duration::from_secs(600),
        )
        .unwrap();
    let app = oms
        .key
        .issue(
            "app",
            Role::SalesChannel,
            ActsFor {
                channels: vec!["app".into()],
                ..ActsFor::default()
            },
            Duration::from_secs(600),
        )
        .unwrap();
    let orders_at = channel_of(oms.running.addrs.orders).await;
    let mut web_orders =
        orders::order_capture_client::OrderCaptureClient::with_interceptor(orders_at.clone(), with(web));
    let mut app_orders = orders::order_capture_client::OrderCaptureClient::with_interceptor(orders_at, with(app));

    let mut draft = oms_order_capture::testing::web_order("ACCESS-1", &[("SKU-001", 1, 5_000)]);
    draft.channel = orders::Channel::Web as i32;
    // A channel places for itself only.
    let mut as_app = draft.clone();
    as_app.external_order_id = "ACCESS-2".into();
    let refused = app_orders
        .place_order(orders::PlaceOrderRequest { order: Some(as_app) })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let order_id = web_orders
        .place_order(orders::PlaceOrderRequest { order: Some(draft) })
        .await
        .unwrap()
        .into_inner()
        .order_id;
    // It reads and tracks its own order; another channel is told it is not theirs.
    web_orders
        .get_order(orders::GetOrderRequest {
            order_id: order_id.clone(),
        })
        .await
        .unwrap();
    for status in [
        app_orders
            .get_order(orders::GetOrderRequest {
                order_id: order_id.clone(),
            })
            .await
            .unwrap_err(),
        app_orders
            .track(orders::TrackRequest {
                order_id: order_id.clone(),
            })
            .await
            .unwrap_err(),
        app_orders
            .cancel_order(orders::CancelOrderRequest {
                order_id: order_id.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err(),
    ] {
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
        assert!(status.message().contains("belongs to web"), "{status:?}");
    }
    // The order is still there for its own channel to cancel.
    web_orders
        .cancel_order(orders::CancelOrderRequest {
            order_id,
            reason: "changed my mind".into(),
            ..Default::default()
        })
        .await
        .unwrap();

    // A store's staff see their own queue, not another store's.
    let staff = oms
        .key
        .issue(
            "ada",
            Role::StoreStaff,
            ActsFor {
                stores: vec!["store-alexanderplatz".into()],
                ..ActsFor::default()
            },
            Duration::from_secs(600),
        )
        .unwrap();
    let mut fulfilment_api = fulfilment::store_fulfilment_client::StoreFulfilmentClient::with_interceptor(
        channel_of(oms.running.addrs.fulfilment).await,
        with(staff),
    );
    fulfilment_api
        .list_queue(fulfilment::ListQueueRequest {
            store_id: "store-alexanderplatz".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let other = fulfilment_api
        .list_queue(fulfilment::ListQueueRequest {
            store_id: "store-kreuzberg".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::PermissionDenied);
    assert_eq!(
        other.message(),
        "store_id names store-kreuzberg, which this store-staff token does not act for"
    );
    oms.running.stop().await;
}
