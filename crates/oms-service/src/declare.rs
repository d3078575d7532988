//! A service declares what it is — its name, its gRPC API, the topics it reads and what
//! it does with them, what else runs beside it — and [`Declared::start`] starts it the way
//! every service starts: its topics created (on Kafka), its outbox offered to the other
//! services of the process (embedded), the API served, one consumer per topic read, its
//! background tasks, the writer, and (on Kafka) the outbox relay; stopped in that order.
//!
//! ```ignore
//! Declared::new(SERVICE, GRPC_SERVICE, &topics::FULFILMENT, wiring, store, writer)
//!     .api(move |_| Routes::new(FulfilmentApi::server(api)))
//!     .access(&config.access)
//!     .consumes(&topics::ROUTING, RoutingRequests { deadlines })
//!     .consumes(&topics::CONFIRMATIONS, NodeConfirmations)
//!     .task("deadlines", move |stop| fulfilment.run_deadlines(every, stop))
//!     .start(listener, app)
//!     .await
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use oms_eventsourcing::{EventStore, Model, Writer};
use oms_proto::topics::Topic;
use oms_transport::{MessageHandler, Source};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::service::Routes;

use crate::{Tasks, Wiring, assemble};

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;
type Api = Box<dyn FnOnce(watch::Receiver<bool>) -> Routes + Send>;
type Task = Box<dyn FnOnce(watch::Receiver<bool>) -> BoxFuture + Send>;
type Follower = Box<dyn FnOnce(Source, watch::Receiver<bool>) -> BoxFuture + Send>;

/// A service as it declares itself, ready to start.
pub struct Declared<M: Model> {
    name: &'static str,
    grpc_name: &'static str,
    publishes: &'static Topic,
    wiring: Wiring,
    store: EventStore,
    writer: Writer<M>,
    api: Option<Api>,
    access: Option<crate::auth::Access>,
    consumers: Vec<(&'static Topic, Box<dyn MessageHandler<M>>)>,
    followers: Vec<(&'static Topic, String, Follower)>,
    tasks: Vec<(&'static str, Task)>,
}

/// A started service: its application, where its API answers, its store.
pub struct Running<A> {
    pub app: A,
    pub addr: SocketAddr,
    pub store: EventStore,
    tasks: Tasks,
}

impl<A> Running<A> {
    /// Stops in order: no new calls (those in flight finish), consumers finish their batch,
    /// background tasks stop, the writer drains and snapshots, the relay flushes.
    pub async fn stop(self) {
        self.tasks.stop().await;
    }
}

impl<A: Send> crate::process::Running for Running<A> {
    async fn stop(self) {
        Running::stop(self).await;
    }
}

impl<M: Model> Declared<M> {
    /// The service `name` (`store-fulfilment`), answering gRPC service `grpc_name`,
    /// publishing on `publishes`, with its `writer` over `store`.
    pub fn new(
        name: &'static str,
        grpc_name: &'static str,
        publishes: &'static Topic,
        wiring: Wiring,
        store: EventStore,
        writer: Writer<M>,
    ) -> Self {
        Self {
            name,
            grpc_name,
            publishes,
            wiring,
            store,
            writer,
            api: None,
            access: None,
            consumers: Vec::new(),
            followers: Vec::new(),
            tasks: Vec::new(),
        }
    }

    /// Its gRPC API; `routes` is given a receiver that turns true when the API stops, for
    /// streams that must end then.
    pub fn api(mut self, routes: impl FnOnce(watch::Receiver<bool>) -> Routes + Send + 'static) -> Self {
        self.api = Some(Box::new(routes));
        self
    }

    /// How its API checks callers (see [`crate::auth`]) and speaks TLS; an API without
    /// it does not start.
    #[must_use]
    pub fn access(mut self, access: &crate::auth::Access) -> Self {
        self.access = Some(access.clone());
        self
    }

    /// Reads `topic`, applying each message through the writer with `handler` (inbox,
    /// parking and dead letters included). What systems outside the OMS send is checked
    /// against the contract's limits first.
    pub fn consumes(mut self, topic: &'static Topic, handler: impl MessageHandler<M>) -> Self {
        self.consumers.push((topic, Box::new(handler)));
        self
    }

    /// Follows `topic` with a reader of its own (a projection), named `name`.
    pub fn follows<F>(mut self, topic: &'static Topic, name: impl Into<String>, follow: F) -> Self
    where
        F: FnOnce(Source, watch::Receiver<bool>) -> BoxFuture + Send + 'static,
    {
        self.followers.push((topic, name.into(), Box::new(follow)));
        self
    }

    /// Runs `task` beside the service (a timer, a worker) until it is asked to stop.
    pub fn task<F, Fut>(mut self, name: &'static str, task: F) -> Self
    where
        F: FnOnce(watch::Receiver<bool>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.tasks.push((name, Box::new(move |stop| Box::pin(task(stop)))));
        self
    }

    /// Starts everything declared, serving the API on `listener`; `app` is the service's
    /// application, handed back in the running service.
    pub async fn start<A>(self, listener: TcpListener, app: A) -> anyhow::Result<Running<A>> {
        let read: Vec<&str> = self
            .consumers
            .iter()
            .map(|(t, _)| t.name)
            .chain(self.followers.iter().map(|(t, _, _)| t.name))
            .collect();
        assemble::topics(&self.wiring, self.publishes.name, &read).await?;
        assemble::publish_outbox(&self.wiring, self.name, &self.store);
        let addr = listener.local_addr()?;
        let mut tasks = Tasks::new();
        if let Some(api) = self.api {
            let access = self.access.ok_or_else(|| {
                anyhow::anyhow!(
                    "{} declares an API without access control (Declared::access)",
                    self.name
                )
            })?;
            assemble::grpc(&mut tasks, listener, &self.writer, api, self.grpc_name, access);
        }
        for (topic, handler) in self.consumers {
            let reader = topic.reader_of(self.name);
            assemble::consumer(&mut tasks, &self.wiring, &self.writer, &reader, topic, handler).await?;
        }
        for (topic, name, follow) in self.followers {
            if let Some(source) = self.wiring.source(&name, &self.store, topic).await? {
                let stop = tasks.stage(name);
                tasks.spawn(follow(source, stop));
            }
        }
        for (name, task) in self.tasks {
            let stop = tasks.stage(name);
            tasks.spawn(task(stop));
        }
        assemble::writer(&mut tasks, &self.writer);
        assemble::relay(&mut tasks, &self.wiring, &self.store, self.name)?;
        tracing::info!(%addr, service = self.name, "serving");
        Ok(Running {
            app,
            addr,
            store: self.store,
            tasks,
        })
    }
}
