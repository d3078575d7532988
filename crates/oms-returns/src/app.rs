//! The application service: returns' decisions through the writer (events and the messages
//! announcing them in one commit), and replacement orders placed through order capture.

use std::time::Duration;

use chrono::{DateTime, Utc};
use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::trace::current_traceparent;
use oms_eventsourcing::writer::Context;
use oms_eventsourcing::{
    Changes, CommandError, CommandMeta, Decide, Decision, EventStore, StoreError, Writer, WriterConfig,
};
use oms_proto::orders::v1 as orders;
use oms_proto::orders::v1::order_capture_client::OrderCaptureClient;
use oms_service::auth::{Access, AuthorisedChannel};
use prost::Message as _;

use crate::domain::{
    InspectReturn, OrderId, Policy, ReceiveReturn, RecordExchange, RetryRefunds, Return, ReturnId, Returns,
    ReturnsError, ReturnsEvent, StartReturn, Tender,
};
use crate::messages;

pub type Outcome<T> = Result<T, CommandError<ReturnsError>>;

#[derive(Clone)]
pub struct ReturnsService {
    writer: Writer<Returns>,
    policy: Policy,
    orders: OrderCaptureClient<AuthorisedChannel>,
}

/// The changes with the messages announcing them, per return.
pub fn decision(state: &Returns, changes: Changes<ReturnsEvent>, now: DateTime<Utc>) -> Decision<ReturnsEvent, ()> {
    Decision::reply(()).announced_per_stream(changes, |stream, events| match stream.strip_prefix("return:") {
        Some(id) => messages::for_events(state.get(id), events, now),
        // An order's own events (learnt from order capture and fulfilment) announce nothing.
        None => Vec::new(),
    })
}

impl ReturnsService {
    /// `orders_url`: order capture's gRPC address, where replacement orders are placed,
    /// with returns' identity and TLS (`access`).
    pub async fn start(
        store: EventStore,
        clock: SharedClock,
        config: WriterConfig,
        policy: Policy,
        orders_url: &str,
        access: &Access,
    ) -> anyhow::Result<Self> {
        let channel = oms_service::auth::connect_lazy(orders_url, access, Duration::from_secs(10))
            .map_err(|e| anyhow::anyhow!("the order capture URL: {e}"))?;
        let orders = OrderCaptureClient::new(channel);
        let (writer, report) = Writer::<Returns>::start(store, clock, config)
            .await
            .map_err(|e: StoreError| anyhow::anyhow!(e))?;
        tracing::info!(
            events = report.events_applied,
            returns = writer.read(Returns::len),
            "returns ready"
        );
        Ok(Self { writer, policy, orders })
    }

    pub fn writer(&self) -> &Writer<Returns> {
        &self.writer
    }

    /// The return policy commands are decided under.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    fn meta(request_id: &str) -> CommandMeta {
        let meta = CommandMeta::new().with_traceparent(current_traceparent());
        if request_id.is_empty() {
            meta
        } else {
            meta.with_idempotency_key(format!("return/{request_id}"))
        }
    }

    async fn run(
        &self,
        request_id: &str,
        command: impl Decide<Returns, Refusal = ReturnsError> + Send + 'static,
    ) -> Outcome<()> {
        self.writer
            .execute(Self::meta(request_id), move |state: &Returns, ctx: &Context<'_>| {
                let changes = command.decide(state, ctx.now)?;
                Ok(decision(state, changes, ctx.now))
            })
            .await
    }

    fn answer(&self, return_id: &ReturnId) -> Outcome<Return> {
        self.get(return_id.as_str())
            .ok_or_else(|| CommandError::Rejected(ReturnsError::UnknownReturn(return_id.clone())))
    }

    /// Authorises the return; for an exchange, places the replacement order too.
    pub async fn start_return(&self, request: StartReturn, request_id: &str) -> Outcome<Return> {
        let return_id = request.return_id.clone();
        self.run(request_id, request).await?;
        let ret = self.answer(&return_id)?;
        if !ret.exchange.is_empty() && ret.replacement_order_id.is_empty() {
            match self.place_replacement(&ret).await {
                Ok(replacement_order_id) => {
                    let exchange = RecordExchange {
                        return_id: return_id.clone(),
                        replacement_order_id,
                    };
                    self.run("", exchange).await?;
                }
                Err(e) => {
                    tracing::warn!(%return_id, error = %e, "the replacement order was not placed; start the return again to retry");
                }
            }
        }
        self.answer(&return_id)
    }

    /// The replacement order: the original order's customer, delivery and address, the
    /// exchanged units priced as the returned ones, paid by the return.
    async fn place_replacement(&self, ret: &Return) -> Result<OrderId, tonic::Status> {
        let original = self
            .writer
            .read(|s| s.order(&ret.order_id).map(|o| o.draft.clone()))
            .unwrap_or_default();
        let mut draft = orders::OrderDraft::decode(original.as_slice()).unwrap_or_default();
        let price = |line_id: &str| {
            ret.lines
                .iter()
                .find(|l| l.line_id == line_id)
                .map_or(0, |l| l.unit_price_minor)
        };
        draft.external_order_id = format!("exchange-{}", ret.return_id);
        draft.lines = ret
            .exchange
            .iter()
            .enumerate()
            .map(|(i, x)| orders::OrderLine {
                line_id: (i + 1).to_string(),
                sku: x.sku.to_string(),
                quantity: x.quantity,
                unit_price: Some(ret.money(price(x.line_id.as_str())).to_pb()),
                description: format!("exchange for line {} of order {}", x.line_id, ret.order_id),
            })
            .collect();
        draft.shipping_fee = None;
        draft.release_at = None;
        draft.payments = vec![orders::Payment {
            reference: format!("return:{}", ret.return_id),
            tender: Tender::StoreCredit.to_pb() as i32,
            authorised: Some(ret.money(ret.exchange_minor()).to_pb()),
        }];
        let placed = self
            .orders
            .clone()
            .place_order(oms_service::grpc::traced(orders::PlaceOrderRequest {
                order: Some(draft),
            }))
            .await?;
        Ok(placed.into_inner().order_id.into())
    }

    pub async fn receive(&self, receipt: ReceiveReturn) -> Outcome<Return> {
        let return_id = receipt.return_id.clone();
        self.run("", receipt).await?;
        self.answer(&return_id)
    }

    pub async fn inspect(&self, inspection: InspectReturn) -> Outcome<Return> {
        let return_id = inspection.return_id.clone();
        self.run("", inspection).await?;
        self.answer(&return_id)
    }

    pub async fn retry_refund(&self, return_id: &str) -> Outcome<Return> {
        let return_id = ReturnId::from(return_id);
        let retry = RetryRefunds {
            return_id: return_id.clone(),
        };
        self.run("", retry).await?;
        self.answer(&return_id)
    }

    pub fn get(&self, return_id: &str) -> Option<Return> {
        self.writer.read(|s| s.get(return_id).cloned())
    }

    pub fn of_order(&self, order_id: &str) -> Vec<Return> {
        self.writer
            .read(|s| s.of_order(order_id).into_iter().cloned().collect())
    }
}
