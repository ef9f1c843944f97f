//! Session state kept in this process's memory.
//!
//! Fine for one server. Behind a round-robin balancer each server has its own
//! memory, so a browser signed in on one is a stranger to the next: that is
//! what the `stateless-sessions` build fixes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix_session::storage::{
    LoadError, SaveError, SessionKey, SessionStore, UpdateError, generate_session_key,
};
use actix_web::cookie::time::Duration;

type State = HashMap<String, String>;

/// Most sessions kept at once; the oldest to expire are dropped beyond it.
const CAPACITY: usize = 100_000;

/// An in-memory [`SessionStore`] with expiry and a size bound.
#[derive(Clone, Default)]
pub struct MemorySessionStore {
    sessions: Arc<Mutex<HashMap<String, (State, Instant)>>>,
}

impl MemorySessionStore {
    fn with_sessions<T>(
        &self,
        work: impl FnOnce(&mut HashMap<String, (State, Instant)>) -> T,
    ) -> T {
        let mut sessions = self
            .sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        work(&mut sessions)
    }

    /// How many sessions are held.
    pub fn len(&self) -> usize {
        self.with_sessions(|sessions| sessions.len())
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

fn make_room(sessions: &mut HashMap<String, (State, Instant)>) {
    if sessions.len() < CAPACITY {
        return;
    }
    let now = Instant::now();
    sessions.retain(|_, (_, expires)| *expires > now);
    while sessions.len() >= CAPACITY {
        let Some(soonest) = sessions
            .iter()
            .min_by_key(|(_, (_, expires))| *expires)
            .map(|(key, _)| key.clone())
        else {
            break;
        };
        sessions.remove(&soonest);
    }
}

impl SessionStore for MemorySessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        Ok(
            self.with_sessions(|sessions| match sessions.get(session_key.as_ref()) {
                Some((state, expires)) if *expires > Instant::now() => Some(state.clone()),
                _ => None,
            }),
        )
    }

    async fn save(&self, session_state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        let key = generate_session_key();
        self.with_sessions(|sessions| {
            make_room(sessions);
            sessions.insert(key.as_ref().to_string(), (session_state, expiry(ttl)));
        });
        Ok(key)
    }

    async fn update(
        &self,
        session_key: SessionKey,
        session_state: State,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        let known = self.with_sessions(|sessions| match sessions.get_mut(session_key.as_ref()) {
            Some(entry) => {
                *entry = (session_state.clone(), expiry(ttl));
                true
            }
            None => false,
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
            if let Some(entry) = sessions.get_mut(session_key.as_ref()) {
                entry.1 = expiry(ttl);
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
}
