//! The dedicated LISTEN connection (Hybrid and EventDrivenOnly): subscribes to
//! `tasker_queue_<namespace>` for every namespace and turns notifications into wake-ups of the
//! namespace's claim loop. On loss it reconnects with backoff, subscribes again and wakes every
//! loop, since notifications sent while it was down are lost.

use crate::backoff::Backoff;
use crate::error::CoreError;
use crate::shared::Shared;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{sleep, Instant};
use tokio_postgres::{AsyncMessage, NoTls, Notification};

const CHANNEL_PREFIX: &str = "tasker_queue_";
/// Added to a notification's delay before waking: the delay is rounded down to whole
/// milliseconds by the database, and a claim that comes too early finds nothing.
const SCHEDULE_MARGIN: Duration = Duration::from_millis(10);

/// A live LISTEN session.
pub struct Listening {
    /// Kept alive: dropping the client ends the session.
    _client: tokio_postgres::Client,
    notifications: mpsc::UnboundedReceiver<Notification>,
    driver: JoinHandle<()>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// `LISTEN` statements for the namespaces. Names were checked against the namespace pattern
/// (lower-case letters, digits, underscores), and are quoted all the same.
pub fn listen_sql(namespaces: &[String]) -> String {
    namespaces
        .iter()
        .map(|ns| format!("LISTEN \"{CHANNEL_PREFIX}{ns}\";"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Opens the connection and subscribes.
pub async fn connect(
    pg_config: &tokio_postgres::Config,
    namespaces: &[String],
) -> Result<Listening, CoreError> {
    let (client, mut connection) = pg_config.connect(NoTls).await?;
    let (sender, notifications) = mpsc::unbounded_channel();
    // The connection must be polled for the session to make progress; the driver forwards
    // notifications and ends (closing the channel) when the connection does.
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(notification)) => {
                    if sender.send(notification).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    let listening = Listening {
        _client: client,
        notifications,
        driver,
    };
    listening
        ._client
        .batch_execute(&listen_sql(namespaces))
        .await?;
    Ok(listening)
}

/// What a notification asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Signal<'a> {
    /// Messages are visible now.
    Now(&'a str),
    /// Messages become visible after this delay.
    After(&'a str, Duration),
}

/// Reads a notification of channel `tasker_queue_<namespace>` with payload "delay in ms". An
/// unreadable payload means "now": a spurious claim is cheap.
pub fn signal<'a>(channel: &'a str, payload: &str) -> Option<Signal<'a>> {
    let namespace = channel.strip_prefix(CHANNEL_PREFIX)?;
    match payload.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => Some(Signal::After(namespace, Duration::from_millis(ms))),
        _ => Some(Signal::Now(namespace)),
    }
}

fn dispatch(shared: &Shared, notification: &Notification) {
    match signal(notification.channel(), notification.payload()) {
        Some(Signal::Now(ns)) => {
            if let Some(wake) = shared.wakes.get(ns) {
                wake.now();
            }
        }
        Some(Signal::After(ns, delay)) => {
            if let Some(wake) = shared.wakes.get(ns) {
                wake.at(Instant::now() + delay + SCHEDULE_MARGIN);
            }
        }
        None => {}
    }
}

/// Serves notifications until shutdown, reconnecting whenever the session is lost.
pub async fn run(shared: Arc<Shared>, mut listening: Listening) {
    loop {
        loop {
            tokio::select! {
                received = listening.notifications.recv() => match received {
                    Some(notification) => dispatch(&shared, &notification),
                    None => break,
                },
                _ = shared.shutdown.cancelled() => return,
            }
        }
        drop(listening);
        let lost: Result<(), CoreError> = Err(CoreError::connection("LISTEN connection lost"));
        shared.db.health.observe(&lost, &shared.counters);

        let mut backoff = Backoff::new();
        listening = loop {
            tokio::select! {
                _ = sleep(backoff.next_delay()) => {}
                _ = shared.shutdown.cancelled() => return,
            }
            let attempt = connect(shared.db.pg_config(), &shared.config.namespaces).await;
            shared.db.health.observe(&attempt, &shared.counters);
            if let Ok(session) = attempt {
                break session;
            }
        };
        // Whatever was notified while we were away is lost: claim now.
        shared.wake(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_statements_quote_each_channel() {
        assert_eq!(
            listen_sql(&["a".into(), "b_2".into()]),
            r#"LISTEN "tasker_queue_a"; LISTEN "tasker_queue_b_2";"#
        );
    }

    #[test]
    fn payloads_become_signals() {
        assert_eq!(signal("tasker_queue_shop", "0"), Some(Signal::Now("shop")));
        assert_eq!(
            signal("tasker_queue_shop", "1500"),
            Some(Signal::After("shop", Duration::from_millis(1500)))
        );
        assert_eq!(
            signal("tasker_queue_shop", "junk"),
            Some(Signal::Now("shop"))
        );
        assert_eq!(signal("tasker_task_state", "{}"), None);
    }
}
