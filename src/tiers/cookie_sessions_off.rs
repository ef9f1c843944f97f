//! Stateless sessions are not built in: there is no cookie session store.

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use std::collections::HashMap;

/// No cookie session store can exist in this build.
#[derive(Clone)]
pub enum Store {}

/// Always `None`: this build has no cookie sessions.
pub fn store() -> Option<Store> {
    None
}

impl SessionStore for Store {
    async fn load(&self, _: &SessionKey) -> Result<Option<HashMap<String, String>>, LoadError> {
        match *self {}
    }

    async fn save(
        &self,
        _: HashMap<String, String>,
        _: &Duration,
    ) -> Result<SessionKey, SaveError> {
        match *self {}
    }

    async fn update(
        &self,
        _: SessionKey,
        _: HashMap<String, String>,
        _: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        match *self {}
    }

    async fn update_ttl(&self, _: &SessionKey, _: &Duration) -> Result<(), anyhow::Error> {
        match *self {}
    }

    async fn delete(&self, _: &SessionKey) -> Result<(), anyhow::Error> {
        match *self {}
    }
}
