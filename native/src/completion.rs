//! How results get back to whoever asked: a future awaiting them (the napi face, the blocking C
//! functions), or a *ticket* in the core's completion queue (the C ABI's submit functions).
//!
//! The completion queue exists for the C ABI loaders: a blocking call per report needs a thread
//! per report, and the loaders can spare only a few (koffi keeps libuv's pool for file and DNS
//! work), so at most a few reports were ever in flight and the flusher could not batch them. With
//! tickets, submitting returns at once and one thread waiting in `tasker_core_completions` brings
//! back the results of any number of reports and `next()` waits (README.md, "The C ABI").

use crate::envelope;
use crate::error::CoreError;
use crate::shared::lock;
use std::sync::Mutex;
use tokio::sync::{oneshot, Notify};
use tokio::time::{timeout_at, Instant};
use tokio_util::sync::CancellationToken;

pub type Answer = Result<String, CoreError>;

/// Where the result of one operation goes.
#[derive(Debug)]
pub enum Reply {
    /// A future waiting for it.
    Waiting(oneshot::Sender<Answer>),
    /// The completion queue, under the caller's ticket.
    Ticket(u64),
}

/// Results waiting to be collected by `tasker_core_completions`.
#[derive(Debug, Default)]
pub struct Completions {
    done: Mutex<Vec<(u64, Answer)>>,
    ready: Notify,
}

impl Completions {
    /// Queues results and wakes the collector once, so a whole settled batch is usually
    /// collected in one call.
    pub fn push(&self, results: impl IntoIterator<Item = (u64, Answer)>) {
        let added = {
            let mut done = lock(&self.done);
            let before = done.len();
            done.extend(results);
            done.len() > before
        };
        if added {
            self.ready.notify_one();
        }
    }

    /// Up to `max` results, in the order they completed, as a JSON array of ticketed envelopes
    /// (`{"ticket":n,"ok":true,"value":…}`). Waits until `deadline` for the first one, unless
    /// `closed` is cancelled: then it returns what is left at once.
    pub async fn collect(
        &self,
        max: usize,
        deadline: Instant,
        closed: &CancellationToken,
    ) -> String {
        loop {
            let ready = self.ready.notified();
            tokio::pin!(ready);
            ready.as_mut().enable();
            let taken = self.take(max);
            if !taken.is_empty() || closed.is_cancelled() {
                return render(taken);
            }
            tokio::select! {
                waited = timeout_at(deadline, &mut ready) => {
                    if waited.is_err() {
                        return render(self.take(max));
                    }
                }
                _ = closed.cancelled() => {}
            }
        }
    }

    /// Takes up to `max` results without waiting.
    pub fn take(&self, max: usize) -> Vec<(u64, Answer)> {
        let mut done = lock(&self.done);
        let count = max.min(done.len());
        let taken: Vec<_> = done.drain(..count).collect();
        let more = !done.is_empty();
        drop(done);
        if more {
            // Another collector may be waiting: what this one left is for it.
            self.ready.notify_one();
        }
        taken
    }

    pub fn is_empty(&self) -> bool {
        lock(&self.done).is_empty()
    }
}

/// `[{"ticket":n,"ok":…},…]`.
pub fn render(results: Vec<(u64, Answer)>) -> String {
    let items: Vec<String> = results
        .into_iter()
        .map(|(ticket, answer)| envelope::ticketed(ticket, answer))
        .collect();
    crate::core::json_array(&items)
}

/// Hands results to their callers: futures at once, tickets in one push.
pub fn answer(completions: &Completions, results: impl IntoIterator<Item = (Reply, Answer)>) {
    let mut tickets = Vec::new();
    for (reply, result) in results {
        match reply {
            Reply::Waiting(sender) => {
                // The caller may have stopped waiting (its future was dropped); nothing to do.
                let _ = sender.send(result);
            }
            Reply::Ticket(ticket) => tickets.push((ticket, result)),
        }
    }
    completions.push(tickets);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::codes;
    use std::time::Duration;

    #[tokio::test]
    async fn collect_returns_what_completed_and_waits_for_the_first() {
        let completions = Completions::default();
        let closed = CancellationToken::new();
        let soon = Instant::now() + Duration::from_millis(20);
        assert_eq!(completions.collect(10, soon, &closed).await, "[]");

        let (sender, receiver) = oneshot::channel();
        answer(
            &completions,
            [
                (Reply::Ticket(7), Ok("1".to_owned())),
                (Reply::Waiting(sender), Ok("2".to_owned())),
                (
                    Reply::Ticket(9),
                    Err(CoreError::new(codes::CORE_CLOSED, "closed")),
                ),
            ],
        );
        assert_eq!(receiver.await.unwrap().unwrap(), "2");
        let later = Instant::now() + Duration::from_secs(5);
        let first = completions.collect(1, later, &closed).await;
        assert_eq!(first, r#"[{"ticket":7,"ok":true,"value":1}]"#);
        let rest: serde_json::Value =
            serde_json::from_str(&completions.collect(10, later, &closed).await).unwrap();
        assert_eq!(rest[0]["ticket"], 9);
        assert_eq!(rest[0]["ok"], false);
        assert_eq!(rest[0]["error"]["code"], "CORE_CLOSED");
        assert!(completions.is_empty());
    }

    #[tokio::test]
    async fn a_waiting_collector_wakes_on_a_push_or_when_closed() {
        let completions = std::sync::Arc::new(Completions::default());
        let closed = CancellationToken::new();
        let far = Instant::now() + Duration::from_secs(30);
        let waiter = {
            let (completions, closed) = (completions.clone(), closed.clone());
            tokio::spawn(async move { completions.collect(10, far, &closed).await })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        completions.push([(1, Ok("null".to_owned()))]);
        assert_eq!(
            waiter.await.unwrap(),
            r#"[{"ticket":1,"ok":true,"value":null}]"#
        );

        let waiter = {
            let (completions, closed) = (completions.clone(), closed.clone());
            tokio::spawn(async move { completions.collect(10, far, &closed).await })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        closed.cancel();
        assert_eq!(waiter.await.unwrap(), "[]");
    }
}
