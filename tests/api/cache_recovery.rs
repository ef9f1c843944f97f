//! Invalidations missed while Redis was away, replayed when it is back:
//! reads bypass the cache until the replay has been delivered, and a replay
//! cancelled halfway loses nothing. A proxy in front of Redis holds any
//! connection that sends a `DEL`, so a delivery can be caught in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use million::error::AppError;
use million::settings::CacheSettings;
use million::tiers::cache::{Cache, Invalidation};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use crate::helpers::TestRedis;

/// How long any test waits for something it expects to happen.
const PATIENCE: Duration = Duration::from_secs(30);

/// A TCP proxy to Redis that can hold deliveries of invalidations.
struct RedisProxy {
    port: u16,
    hold_deletes: Arc<AtomicBool>,
    held: mpsc::UnboundedReceiver<()>,
    /// Sent to every held connection: forward what it held, or drop it
    /// (and the connection).
    release: watch::Sender<bool>,
}

impl RedisProxy {
    async fn start(redis: &TestRedis) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let upstream = format!("127.0.0.1:{}", redis.port);
        let hold_deletes = Arc::new(AtomicBool::new(false));
        let (held_tx, held) = mpsc::unbounded_channel();
        let (release, _) = watch::channel(false);
        let control = (Arc::clone(&hold_deletes), held_tx, release.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (hold, held, release) = control.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let _ = pipe(client, &upstream, &hold, &held, &release).await;
                });
            }
        });
        Self {
            port,
            hold_deletes,
            held,
            release,
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Waits until a connection is held with a `DEL` in it.
    async fn until_held(&mut self) {
        tokio::time::timeout(PATIENCE, self.held.recv())
            .await
            .expect("no delivery reached the proxy")
            .unwrap();
    }

    /// Lets held connections go: `forward` what they held, or drop it.
    fn release(&self, forward: bool) {
        self.release.send_replace(forward);
    }
}

/// Forwards one connection, holding what the client sends from its first
/// `DEL` on while `hold` is set, until released.
async fn pipe(
    client: TcpStream,
    upstream: &str,
    hold: &AtomicBool,
    held: &mpsc::UnboundedSender<()>,
    release: &watch::Sender<bool>,
) -> std::io::Result<()> {
    let server = TcpStream::connect(upstream).await?;
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let answers = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
    });
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let read = from_client.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        let chunk = &buffer[..read];
        let deletes = chunk.windows(9).any(|window| window == b"$3\r\nDEL\r\n");
        if deletes && hold.load(Ordering::SeqCst) {
            let mut released = release.subscribe();
            let _ = held.send(());
            if released.changed().await.is_err() || !*released.borrow() {
                break;
            }
        }
        to_server.write_all(chunk).await?;
    }
    answers.abort();
    Ok(())
}

/// A cache through `proxy` that never times out (only the proxy holds it
/// up) and opens its breaker at the first failure, probing at once.
fn through(proxy: &RedisProxy) -> Cache {
    Cache::new(&CacheSettings {
        redis_url: proxy.url(),
        timeout_ms: 600_000,
        breaker_failures: 1,
        breaker_cooldown_ms: 0,
        ..CacheSettings::default()
    })
    .unwrap()
}

/// A cache straight on `redis`: another server.
fn direct(redis: &TestRedis) -> Cache {
    Cache::new(&CacheSettings {
        redis_url: redis.url(),
        timeout_ms: 5_000,
        ..CacheSettings::default()
    })
    .unwrap()
}

async fn read(cache: &Cache, value: &str) -> String {
    cache
        .get_or_load("profile:1", Duration::from_secs(600), async || {
            Ok::<_, AppError>(Some(value.to_string()))
        })
        .await
        .unwrap()
        .unwrap()
}

/// Caches "old" in Redis through `cache`, then has a write's invalidation
/// fail to reach Redis (its connection is dropped), so it is queued.
async fn miss_an_invalidation(cache: &Cache, proxy: &mut RedisProxy) {
    assert_eq!(read(cache, "old").await, "old");
    proxy.hold_deletes.store(true, Ordering::SeqCst);
    let write = tokio::spawn({
        let cache = cache.clone();
        async move {
            cache
                .invalidate(Invalidation {
                    keys: vec!["profile:1".into()],
                    generations: vec![],
                })
                .await
        }
    });
    proxy.until_held().await;
    proxy.release(false);
    write.await.unwrap();
}

/// Starts a read that replays the queued invalidation and is held there.
async fn replay_in_flight(cache: &Cache, proxy: &mut RedisProxy) -> tokio::task::JoinHandle<()> {
    let replaying = tokio::spawn({
        let cache = cache.clone();
        async move {
            read(&cache, "new").await;
        }
    });
    proxy.until_held().await;
    replaying
}

#[tokio::test]
async fn reads_bypass_the_cache_until_missed_invalidations_are_delivered() {
    let redis = TestRedis::start().await;
    let mut proxy = RedisProxy::start(&redis).await;
    let cache = through(&proxy);
    miss_an_invalidation(&cache, &mut proxy).await;

    // Redis answers again, and the replay of the missed invalidation is on
    // its way but not there yet ...
    let replaying = replay_in_flight(&cache, &mut proxy).await;

    // ... so Redis still holds the old value: a read must not use it.
    assert_eq!(read(&cache, "new").await, "new");
    assert!(cache.counters().bypasses > 0);

    proxy.hold_deletes.store(false, Ordering::SeqCst);
    proxy.release(true);
    replaying.await.unwrap();
    assert_eq!(read(&direct(&redis), "new").await, "new", "delivered");
}

#[tokio::test]
async fn a_replay_cancelled_halfway_loses_nothing() {
    let redis = TestRedis::start().await;
    let mut proxy = RedisProxy::start(&redis).await;
    let cache = through(&proxy);
    miss_an_invalidation(&cache, &mut proxy).await;

    // The request replaying the missed invalidation goes away mid-delivery,
    // and what it sent never arrives.
    let replaying = replay_in_flight(&cache, &mut proxy).await;
    replaying.abort();
    assert!(replaying.await.unwrap_err().is_cancelled());
    proxy.hold_deletes.store(false, Ordering::SeqCst);
    proxy.release(false);

    // The next read delivers it, so neither this server nor another reads
    // the old value again.
    assert_eq!(read(&cache, "new").await, "new");
    assert_eq!(read(&direct(&redis), "new").await, "new");
    assert_eq!(read(&cache, "new").await, "new");
}
