//! Request extraction for the API: the signed-in user from the
//! `Authorization: Token <jwt>` header, and body/query/path errors turned into
//! the RealWorld error shape.

use std::future::Future;
use std::pin::Pin;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};

use crate::auth::token::Bearer;
use crate::error::{ApiError, AppError};
use crate::models::User;
use crate::state::AppState;

/// The user a valid token names; requests without one get 401.
pub struct ApiUser(pub User);

/// The id a token names, if a token came; requests with a bad one get 401.
pub struct ApiViewer(pub Option<i64>);

/// The token in an `Authorization` header: `Token x` (RealWorld) or `Bearer x`.
pub fn presented_token(request: &HttpRequest) -> Result<Option<&str>, AppError> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| AppError::Unauthenticated("is invalid"))?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or(AppError::Unauthenticated("is invalid"))?;
    if scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer") {
        Ok(Some(token.trim()))
    } else {
        Err(AppError::Unauthenticated("is invalid"))
    }
}

fn bearer(request: &HttpRequest) -> Result<Option<Bearer>, AppError> {
    let Some(token) = presented_token(request)? else {
        return Ok(None);
    };
    let state = state(request)?;
    state
        .tokens
        .verify(token)
        .map(Some)
        .ok_or(AppError::Unauthenticated("is invalid"))
}

fn state(request: &HttpRequest) -> Result<&web::Data<AppState>, AppError> {
    request
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("application state is not registered")))
}

/// The account `bearer` names, unless it was deleted or has signed out
/// everywhere (or changed its password) since the token was issued. For
/// handlers that need the account itself: its row carries the generation.
async fn account(state: &AppState, bearer: Bearer) -> Result<User, AppError> {
    // The primary: a replica could still show a generation just ended.
    let mut conn = state.db.read_current().await?;
    User::find(&mut conn, bearer.user_id)
        .await?
        .filter(|user| user.session_generation == bearer.generation)
        .ok_or(AppError::Unauthenticated("is invalid"))
}

/// Account `user`'s session generation in the database; `None` if it is gone.
async fn session_generation(state: &AppState, user: i64) -> Result<Option<i32>, AppError> {
    // The primary: a replica could still show a generation just ended.
    let mut conn = state.db.read_current().await?;
    Ok(User::find(&mut conn, user)
        .await?
        .map(|user| user.session_generation))
}

/// The id `bearer` names, on the same terms as [`account`], checked against
/// the session generation the cache tier holds (one Redis `GET`; see
/// `Cache::session_generation` for why it is exact), or the database.
async fn viewer(state: &AppState, bearer: Bearer) -> Result<i64, AppError> {
    let from_database = || session_generation(state, bearer.user_id);
    let current = match state
        .cache
        .session_generation(bearer.user_id, from_database)
        .await?
    {
        // Newer than the tier's copy: only the database can say.
        Some(known) if known < bearer.generation => from_database().await?,
        known => known,
    };
    if current == Some(bearer.generation) {
        Ok(bearer.user_id)
    } else {
        Err(AppError::Unauthenticated("is invalid"))
    }
}

/// Notes who makes this request and, with read replicas, makes its reads
/// wait for the replicas to have replayed this account's last write (on
/// any server: the position is remembered in the cache tier). API clients
/// may also echo `X-Db-Lsn` themselves.
async fn read_own_writes(state: &AppState, user: i64) {
    crate::report::viewer(user);
    if state.db.replicas().enabled()
        && let Some(position) = state.cache.write_position(user).await
    {
        crate::report::read_after_at_least(position);
    }
}

impl FromRequest for ApiViewer {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = bearer(request).and_then(|bearer| match bearer {
            Some(bearer) => Ok(Some((bearer, state(request)?.clone()))),
            None => Ok(None),
        });
        Box::pin(async move {
            match found? {
                Some((bearer, state)) => {
                    let id = viewer(&state, bearer).await?;
                    read_own_writes(&state, id).await;
                    Ok(ApiViewer(Some(id)))
                }
                None => Ok(ApiViewer(None)),
            }
        })
    }
}

impl FromRequest for ApiUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = bearer(request).and_then(|bearer| {
            let state = state(request)?.clone();
            Ok((
                bearer.ok_or(AppError::Unauthenticated("is missing"))?,
                state,
            ))
        });
        Box::pin(async move {
            let (bearer, state) = found?;
            let user = account(&state, bearer).await?;
            read_own_writes(&state, user.id).await;
            Ok(ApiUser(user))
        })
    }
}

/// JSON bodies: size-limited, with RealWorld-shaped errors.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|error, _| {
            let app_error = match &error {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => AppError::PayloadTooLarge,
                JsonPayloadError::ContentType => {
                    AppError::invalid("body", "must be JSON (Content-Type: application/json)")
                }
                JsonPayloadError::Deserialize(cause) => {
                    AppError::invalid("body", format!("is not valid: {cause}"))
                }
                _ => AppError::invalid("body", "could not be read"),
            };
            ApiError(app_error).into()
        })
}

/// Query strings with RealWorld-shaped errors.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error: QueryPayloadError, _| {
        ApiError(AppError::invalid("query", format!("is not valid: {error}"))).into()
    })
}

/// Path segments that cannot be decoded name nothing: 404.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|_: PathError, _| ApiError(AppError::NotFound("resource")).into())
}
