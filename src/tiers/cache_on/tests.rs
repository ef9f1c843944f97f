//! The cache against a Redis that accepts connections and never answers.

use std::time::Duration;

use tokio::net::TcpListener;

use super::Cache;
use crate::error::AppError;
use crate::settings::CacheSettings;

/// Listens on a free port, counting connections, and never says a word.
async fn silent_redis() -> (String, tokio::sync::mpsc::UnboundedReceiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("redis://{}", listener.local_addr().unwrap());
    let (connected, connections) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
            let _ = connected.send(());
        }
    });
    (url, connections)
}

#[tokio::test]
async fn a_probe_whose_request_goes_away_does_not_keep_redis_bypassed() {
    let (redis_url, mut connections) = silent_redis().await;
    let cache = Cache::new(&CacheSettings {
        redis_url,
        // Nothing here may time out: only the cancellation releases the probe.
        timeout_ms: 600_000,
        breaker_failures: 1,
        breaker_cooldown_ms: 0,
        ..CacheSettings::default()
    })
    .unwrap();
    let inner = cache.inner.clone().unwrap();
    inner.breaker.failure();
    assert!(inner.breaker.is_open());

    // The next read probes Redis, which hangs; then its client goes away.
    let request = tokio::spawn({
        let cache = cache.clone();
        async move {
            cache
                .get_or_load("k", Duration::from_secs(60), async || {
                    Ok::<_, AppError>(Some(1u8))
                })
                .await
        }
    });
    tokio::time::timeout(Duration::from_secs(30), connections.recv())
        .await
        .expect("the probe reaches Redis");
    request.abort();
    assert!(request.await.unwrap_err().is_cancelled());

    assert!(
        inner.breaker.allow().is_some(),
        "the next call may probe Redis"
    );
}
