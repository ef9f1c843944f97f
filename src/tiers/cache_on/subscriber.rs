//! Keeping near caches coherent across servers: every invalidation this
//! tier delivers to Redis is also published on one channel, in the same
//! round trip; each server listens on a connection of its own and drops
//! from its near cache what other servers changed.
//!
//! While the listener is not subscribed (starting, Redis gone, a ping
//! unanswered), the near cache is neither read nor filled, and it is emptied
//! both when the subscription is lost and when it is made again: nothing
//! heard of through a gap is trusted. A message lost without the connection
//! dropping is covered by the near cache's TTL.

use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::redis;
use futures_util::StreamExt;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::near::Near;

/// First wait before reconnecting; doubled after each failure up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often an idle subscription is checked with a `PING`.
const PING_EVERY: Duration = Duration::from_secs(1);

/// What one server tells the others to forget.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Message {
    /// The server that sent it (a server ignores its own).
    pub from: String,
    /// Near-cache keys (entries and generations), in full.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forget: Vec<String>,
    /// Everything: the sender lost track of what to forget.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
}

impl Message {
    /// The message as published.
    pub fn encode(&self) -> String {
        // A struct of strings and a bool always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Where and how to listen.
pub struct Listener {
    pub client: redis::Client,
    pub channel: String,
    /// This server, as messages name it.
    pub me: String,
    /// Longest wait for connecting, subscribing or a ping's answer.
    pub patience: Duration,
    pub near: Arc<Near>,
}

impl Listener {
    /// Listens until the task is aborted, reconnecting with backoff.
    pub async fn run(self) {
        let mut backoff = MIN_BACKOFF;
        loop {
            let lost = self.listen(&mut backoff).await;
            if self.near.subscribed() {
                tracing::warn!(
                    "lost the cache invalidation channel ({lost}): near cache off until it is back"
                );
            }
            self.near.set_subscribed(false);
            let jitter = rand::rng().random_range(0.5..=1.0);
            tokio::time::sleep(backoff.mul_f64(jitter)).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Subscribes and handles messages until the connection fails; says why.
    async fn listen(&self, backoff: &mut Duration) -> String {
        let connect = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(&self.channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let pubsub = match tokio::time::timeout(self.patience, connect).await {
            Ok(Ok(pubsub)) => pubsub,
            Ok(Err(error)) => return error.to_string(),
            Err(_) => return "subscribing timed out".to_string(),
        };
        self.near.set_subscribed(true);
        *backoff = MIN_BACKOFF;
        tracing::info!("listening for other servers' cache invalidations");
        let (mut sink, mut messages) = pubsub.split();
        let mut ping = tokio::time::interval(PING_EVERY);
        loop {
            tokio::select! {
                message = messages.next() => match message {
                    Some(message) => self.handle(message.get_payload_bytes()),
                    None => return "connection closed".to_string(),
                },
                _ = ping.tick() => {
                    let answer = tokio::time::timeout(self.patience, sink.ping::<redis::Value>()).await;
                    match answer {
                        Ok(Ok(_)) => {}
                        Ok(Err(error)) => return error.to_string(),
                        Err(_) => return "no answer to a ping".to_string(),
                    }
                }
            }
        }
    }

    fn handle(&self, payload: &[u8]) {
        let Ok(message) = serde_json::from_slice::<Message>(payload) else {
            // Not ours to read (another version?): be safe.
            self.near.forget_all();
            return;
        };
        if message.from == self.me {
            return;
        }
        if message.all {
            self.near.forget_all();
        }
        for key in &message.forget {
            self.near.forget(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_stay_small() {
        let message = Message {
            from: "a".into(),
            forget: vec!["million:profile:jake".into()],
            all: false,
        };
        let text = message.encode();
        assert_eq!(text, r#"{"from":"a","forget":["million:profile:jake"]}"#);
        assert_eq!(serde_json::from_str::<Message>(&text).unwrap(), message);
    }
}
