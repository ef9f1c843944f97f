//! Session state kept in this process's memory.
//!
//! Fine for one server. Behind a round-robin balancer each server has its own
//! memory, so a browser signed in on one is a stranger to the next: that is
//! what the `stateless-sessions` build fixes.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix_session::storage::{
    LoadError, SaveError, SessionKey, SessionStore, UpdateError, generate_session_key,
};
use actix_web::cookie::time::Duration;

type State = HashMap<String, String>;

/// Most sessions kept at once; the ones that would expire soonest are dropped
/// beyond it. Only signed-in browsers have a session, so filling it takes
/// that many sign-ins (each costing an argon2 hash), not page views.
const CAPACITY: usize = 100_000;

/// An in-memory [`SessionStore`] with expiry and a size bound.
#[derive(Clone, Default)]
pub struct MemorySessionStore {
    sessions: Arc<Mutex<Sessions>>,
}

/// The sessions by key, and the same keys ordered by expiry, so that finding
/// the soonest to expire costs O(log n), never a scan.
#[derive(Default)]
struct Sessions {
    by_key: HashMap<String, (State, Instant)>,
    by_expiry: BTreeSet<(Instant, String)>,
}

impl Sessions {
    fn get(&self, key: &str) -> Option<&State> {
        match self.by_key.get(key) {
            Some((state, expires)) if *expires > Instant::now() => Some(state),
            _ => None,
        }
    }

    fn insert(&mut self, key: String, state: State, expires: Instant) {
        self.remove(&key);
        self.make_room();
        self.by_expiry.insert((expires, key.clone()));
        self.by_key.insert(key, (state, expires));
    }

    fn remove(&mut self, key: &str) -> Option<State> {
        let (state, expires) = self.by_key.remove(key)?;
        self.by_expiry.remove(&(expires, key.to_string()));
        Some(state)
    }

    /// Drops what has expired, then the soonest to expire while full.
    fn make_room(&mut self) {
        let now = Instant::now();
        while let Some((expires, key)) = self.by_expiry.first().cloned() {
            if expires > now && self.by_key.len() < CAPACITY {
                break;
            }
            self.remove(&key);
        }
    }
}

impl MemorySessionStore {
    fn with_sessions<T>(&self, work: impl FnOnce(&mut Sessions) -> T) -> T {
        let mut sessions = self
            .sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        work(&mut sessions)
    }

    /// How many sessions are held.
    pub fn len(&self) -> usize {
        self.with_sessions(|sessions| sessions.by_key.len())
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn expiry(ttl: &Duration) -> Instant {
    let ttl = std::time::Duration::try_from(*ttl).unwrap_or_default();
    Instant::now() + ttl
}

impl SessionStore for MemorySessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        Ok(self.with_sessions(|sessions| sessions.get(session_key.as_ref()).cloned()))
    }

    async fn save(&self, session_state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        let key = generate_session_key();
        self.with_sessions(|sessions| {
            sessions.insert(key.as_ref().to_string(), session_state, expiry(ttl));
        });
        Ok(key)
    }

    async fn update(
        &self,
        session_key: SessionKey,
        session_state: State,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        let known = self.with_sessions(|sessions| {
            let key = session_key.as_ref();
            let known = sessions.get(key).is_some();
            if known {
                sessions.insert(key.to_string(), session_state.clone(), expiry(ttl));
            }
            known
        });
        if known {
            Ok(session_key)
        } else {
            // Expired meanwhile: store it under a fresh key.
            self.save(session_state, ttl)
                .await
                .map_err(|error| UpdateError::Other(anyhow::anyhow!("{error}")))
        }
    }

    async fn update_ttl(
        &self,
        session_key: &SessionKey,
        ttl: &Duration,
    ) -> Result<(), anyhow::Error> {
        self.with_sessions(|sessions| {
            let key = session_key.as_ref();
            if let Some(state) = sessions.get(key).cloned() {
                sessions.insert(key.to_string(), state, expiry(ttl));
            }
        });
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> Result<(), anyhow::Error> {
        self.with_sessions(|sessions| sessions.remove(session_key.as_ref()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sessions_round_trip_and_expire() {
        let store = MemorySessionStore::default();
        let state: State = [("uid".to_string(), "7".to_string())].into();
        let key = store
            .save(state.clone(), &Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(store.load(&key).await.unwrap(), Some(state.clone()));
        store.delete(&key).await.unwrap();
        assert_eq!(store.load(&key).await.unwrap(), None);
        let expired = store.save(state, &Duration::ZERO).await.unwrap();
        assert_eq!(store.load(&expired).await.unwrap(), None);
    }

    #[test]
    fn a_full_store_drops_the_session_closest_to_expiry() {
        let mut sessions = Sessions::default();
        let now = Instant::now();
        let hour = std::time::Duration::from_secs(3600);
        sessions.insert("long-lived".into(), State::new(), now + 3 * hour);
        sessions.insert("soonest".into(), State::new(), now + hour);
        for i in 0..CAPACITY - 2 {
            sessions.insert(format!("s{i}"), State::new(), now + 2 * hour);
        }
        assert_eq!(sessions.by_key.len(), CAPACITY);

        sessions.insert("newcomer".into(), State::new(), now + 2 * hour);

        assert_eq!(sessions.by_key.len(), CAPACITY);
        assert_eq!(sessions.by_expiry.len(), CAPACITY);
        assert!(sessions.get("soonest").is_none());
        assert!(sessions.get("long-lived").is_some());
        assert!(sessions.get("newcomer").is_some());
    }

    #[test]
    fn expired_sessions_make_room_first_and_updates_move_expiry() {
        let mut sessions = Sessions::default();
        let now = Instant::now();
        let hour = std::time::Duration::from_secs(3600);
        sessions.insert("gone".into(), State::new(), now);
        sessions.insert("kept".into(), State::new(), now + hour);
        sessions.insert("kept".into(), State::new(), now + 2 * hour);
        sessions.insert("another".into(), State::new(), now + hour);
        assert!(sessions.get("gone").is_none());
        assert_eq!(sessions.by_key.len(), 2, "the expired session was dropped");
        assert_eq!(
            sessions.by_expiry.len(),
            2,
            "the old expiry of `kept` left the index"
        );
    }
}
