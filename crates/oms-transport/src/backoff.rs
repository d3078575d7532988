//! Pauses between attempts at something that failed for now (the database or the broker
//! away): each pause twice the last, at most 10 s, so a short outage is over soon and a
//! long one costs few attempts. One place for it, as the consumer, the projector and the
//! relay all retry this way.

use std::future::Future;
use std::time::Duration;

/// The longest pause.
const LONGEST: Duration = Duration::from_secs(10);

/// The pause before the next attempt.
pub(crate) struct Backoff {
    first: Duration,
    next: Duration,
}

impl Backoff {
    /// Pauses starting at `first`.
    pub(crate) fn from(first: Duration) -> Self {
        Self { first, next: first }
    }

    /// How long the next pause is (for saying so before it).
    pub(crate) fn pause(&self) -> Duration {
        self.next
    }

    /// Waits the pause; the next one is twice as long (at most 10 s).
    pub(crate) async fn wait(&mut self) {
        tokio::time::sleep(self.next).await;
        self.lengthen();
    }

    fn lengthen(&mut self) {
        self.next = (self.next * 2).min(LONGEST);
    }

    /// Something succeeded: the next trouble starts with a short pause again.
    pub(crate) fn reset(&mut self) {
        self.next = self.first;
    }
}

/// `attempt`'s value once it succeeds, pausing between attempts from `first` on; `failed`
/// hears each error, with the pause that follows it.
pub(crate) async fn until_ok<T, E, Fut>(
    first: Duration,
    mut attempt: impl FnMut() -> Fut,
    mut failed: impl FnMut(&E, Duration),
) -> T
where
    Fut: Future<Output = Result<T, E>>,
{
    let mut backoff = Backoff::from(first);
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(e) => {
                failed(&e, backoff.pause());
                backoff.wait().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_pause_doubles_up_to_ten_seconds_and_starts_over_after_a_success() {
        let mut backoff = Backoff::from(Duration::from_secs(3));
        let mut pauses = Vec::new();
        for _ in 0..4 {
            pauses.push(backoff.pause().as_secs());
            backoff.lengthen();
        }
        assert_eq!(pauses, [3, 6, 10, 10]);
        backoff.reset();
        assert_eq!(backoff.pause(), Duration::from_secs(3));
    }
}
