//! Starting a service's background tasks and stopping them in order.

use std::future::Future;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The stop switch of a process: turned by SIGTERM or SIGINT, or by hand.
#[derive(Clone)]
pub struct Shutdown {
    tx: watch::Sender<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Self {
        Self {
            tx: watch::channel(false).0,
        }
    }

    pub fn trigger(&self) {
        let _ = self.tx.send(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }

    /// A receiver that turns true at shutdown.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.tx.subscribe()
    }

    /// Resolves at shutdown.
    pub fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.tx.subscribe();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }

    /// Triggers on SIGTERM or Ctrl-C.
    pub fn on_signals(&self) {
        let this = self.clone();
        tokio::spawn(async move {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(term) => term,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the service");
                        let _ = ctrl_c.await;
                        this.trigger();
                        return;
                    }
                };
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            #[cfg(not(unix))]
            let _ = ctrl_c.await;
            tracing::info!("stop requested; finishing the work in hand");
            this.trigger();
        });
    }
}

/// Named background tasks, stopped in a given order: each stage gets its own stop switch,
/// turned only once the stages before it have finished.
#[derive(Default)]
pub struct Tasks {
    stages: Vec<Stage>,
}

struct Stage {
    name: String,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Tasks {
    pub fn new() -> Self {
        Self::default()
    }

    /// A new stage, stopped after the stages added before it. Returns the receiver its
    /// tasks watch.
    pub fn stage(&mut self, name: impl Into<String>) -> watch::Receiver<bool> {
        let (stop, rx) = watch::channel(false);
        self.stages.push(Stage {
            name: name.into(),
            stop,
            tasks: Vec::new(),
        });
        rx
    }

    /// Runs `task` in the last stage added.
    pub fn spawn(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        let handle = tokio::spawn(task);
        match self.stages.last_mut() {
            Some(stage) => stage.tasks.push(handle),
            None => self.stages.push(Stage {
                name: "tasks".into(),
                stop: watch::channel(false).0,
                tasks: vec![handle],
            }),
        }
    }

    /// Stops the stages one after the other, waiting for each to finish.
    pub async fn stop(self) {
        for stage in self.stages {
            let _ = stage.stop.send(true);
            for task in stage.tasks {
                if let Err(e) = task.await
                    && e.is_panic()
                {
                    tracing::error!(stage = %stage.name, "a task panicked while stopping");
                }
            }
            tracing::debug!(stage = %stage.name, "stopped");
        }
    }
}
