//! The ledger's port answers for the ledger alone: server reflection, v1 and v1alpha, lists
//! and describes the ledger with health, reflection and admin; a call meant for another
//! OMS service is told which port answers it, and an unknown method is named.

mod support;

use std::sync::Arc;
use std::time::Duration;

use oms_eventsourcing::SystemClock;
use oms_proto::inventory::v1 as pb;
use oms_proto::orders::v1 as orders;
use oms_proto::orders::v1::order_capture_client::OrderCaptureClient;
use oms_proto::routing::v1::routing_client::RoutingClient;
use support::*;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic_reflection::pb::{v1, v1alpha};

/// What the port answers, as grpcurl or any reflection client sees it.
const THE_LEDGER_PORT: [&str; 5] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
    "oms.admin.v1.Admin",
    "oms.inventory.v1.InventoryLedger",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_v1_and_v1alpha_list_and_describe_only_what_the_ledger_port_serves() {
    let rig = Rig::postgres(Arc::new(SystemClock)).await;
    let channel = channel(&rig).await;

    let mut listed = reflect_v1(
        &channel,
        v1::server_reflection_request::MessageRequest::ListServices(String::new()),
    )
    .await
    .map(|answer| match answer {
        v1::server_reflection_response::MessageResponse::ListServicesResponse(list) => {
            list.service.into_iter().map(|s| s.name).collect::<Vec<_>>()
        }
        other => panic!("not a list of services: {other:?}"),
    })
    .unwrap();
    listed.sort();
    assert_eq!(listed, THE_LEDGER_PORT, "v1");

    // Python's grpcio-reflection, among others, asks in v1alpha only.
    let mut listed = reflect_v1alpha(
        &channel,
        v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
    )
    .await
    .map(|answer| match answer {
        v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list) => {
            list.service.into_iter().map(|s| s.name).collect::<Vec<_>>()
        }
        other => panic!("not a list of services: {other:?}"),
    })
    .unwrap();
    listed.sort();
    assert_eq!(listed, THE_LEDGER_PORT, "v1alpha");

    // The ledger's contract, and what it imports, can be described here; order capture's cannot.
    let symbol = |name: &str| v1::server_reflection_request::MessageRequest::FileContainingSymbol(name.to_owned());
    for served in [
        "oms.inventory.v1.InventoryLedger",
        "oms.pos.v1.StockMovement",
        "oms.admin.v1.Admin",
        "grpc.health.v1.Health",
    ] {
        let answer = reflect_v1(&channel, symbol(served)).await;
        assert!(
            matches!(
                answer,
                Ok(v1::server_reflection_response::MessageResponse::FileDescriptorResponse(
                    _
                ))
            ),
            "{served}: {answer:?}"
        );
    }
    let elsewhere = reflect_v1(&channel, symbol("oms.orders.v1.OrderCapture")).await;
    assert!(matches!(elsewhere, Err(Code::NotFound)), "{elsewhere:?}");
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_meant_for_another_service_is_told_which_port_answers_it() {
    let rig = Rig::postgres(Arc::new(SystemClock)).await;
    let channel = channel(&rig).await;

    let refused = OrderCaptureClient::new(channel.clone())
        .get_order(orders::GetOrderRequest {
            order_id: "order-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unimplemented);
    assert_eq!(
        refused.message(),
        "oms.orders.v1.OrderCapture is not served here (this port serves oms.inventory.v1.InventoryLedger): \
         order capture answers on its own port, 50051 by default"
    );
    let refused = RoutingClient::new(channel.clone())
        .get_decision(oms_proto::routing::v1::GetDecisionRequest {
            order_id: "order-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unimplemented);
    assert!(
        refused
            .message()
            .contains("routing answers on its own port, 50053 by default"),
        "{refused:?}"
    );

    // A method nobody has is named, whether its service is here or not.
    for path in ["/oms.inventory.v1.InventoryLedger/Teleport", "/shop.v1.Cart/Checkout"] {
        let refused = call(&channel, path).await.unwrap_err();
        assert_eq!(refused.code(), Code::Unimplemented, "{path}");
        assert!(
            refused.message().starts_with(&format!("unknown method {path}")),
            "{refused:?}"
        );
    }

    // And the ledger itself answers as ever.
    let mut client = rig.client.clone();
    let answer = client
        .get_availability(pb::GetAvailabilityRequest {
            skus: vec!["SKU-1".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(answer.into_inner().skus.len(), 1);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_larger_than_4_mib_is_refused_naming_the_limit() {
    let rig = Rig::postgres(Arc::new(SystemClock)).await;
    let mut client = rig.client.clone();
    let refused = client
        .get_availability(pb::GetAvailabilityRequest {
            skus: vec!["S".repeat(oms_service::grpc::MAX_MESSAGE_BYTES + 1)],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(refused.message().contains("4194304"), "{refused:?}");
    // The ledger carries on.
    let answer = client
        .get_availability(pb::GetAvailabilityRequest {
            skus: vec!["SKU-1".into()],
            ..Default::default()
        })
        .await;
    assert!(answer.is_ok(), "{answer:?}");
    rig.stop().await;
}

async fn channel(rig: &Rig) -> Channel {
    oms_service::grpc::channel_when_up(rig.service().addr, Duration::from_secs(30))
        .await
        .unwrap()
}

/// Calls `path` with an empty message, as a client built from another contract would.
async fn call(channel: &Channel, path: &'static str) -> Result<(), tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    grpc.unary(tonic::Request::new(()), PathAndQuery::from_static(path), codec)
        .await
        .map(|_| ())
}

/// One question to reflection v1: its answer, or the code of the error it answers.
async fn reflect_v1(
    channel: &Channel,
    question: v1::server_reflection_request::MessageRequest,
) -> Result<v1::server_reflection_response::MessageResponse, Code> {
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(question),
    };
    let mut answers = v1::server_reflection_client::ServerReflectionClient::new(channel.clone())
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap()
        .into_inner();
    match answers.next().await.unwrap().map(|a| a.message_response) {
        Ok(Some(v1::server_reflection_response::MessageResponse::ErrorResponse(e))) => {
            Err(Code::from_i32(e.error_code))
        }
        Ok(Some(answer)) => Ok(answer),
        Ok(None) => panic!("an empty answer"),
        Err(status) => Err(status.code()),
    }
}

/// One question to reflection v1alpha: its answer, or the code of the error it answers.
async fn reflect_v1alpha(
    channel: &Channel,
    question: v1alpha::server_reflection_request::MessageRequest,
) -> Result<v1alpha::server_reflection_response::MessageResponse, Code> {
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(question),
    };
    let mut answers = v1alpha::server_reflection_client::ServerReflectionClient::new(channel.clone())
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap()
        .into_inner();
    match answers.next().await.unwrap().map(|a| a.message_response) {
        Ok(Some(v1alpha::server_reflection_response::MessageResponse::ErrorResponse(e))) => {
            Err(Code::from_i32(e.error_code))
        }
        Ok(Some(answer)) => Ok(answer),
        Ok(None) => panic!("an empty answer"),
        Err(status) => Err(status.code()),
    }
}
