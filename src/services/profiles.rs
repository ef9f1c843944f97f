//! Profiles, follows and the people directory.

use crate::domain::account::Username;
use crate::domain::paging::{NameCursor, NamePosition};
use crate::error::AppError;
use crate::models::{Conn, Follow, User};
use crate::state::AppState;

use super::{ProfileView, cached};
use crate::tiers::cache::Invalidation;

/// Follower and following counts shown on a profile page.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct FollowCounts {
    pub followers: i64,
    pub following: i64,
}

/// Someone in the people directory.
#[derive(Debug, Clone)]
pub struct Person {
    pub profile: ProfileView,
    pub followers: i64,
}

/// The account behind `username`, or 404. Names that cannot be usernames
/// are refused without asking the database.
pub async fn find_user(conn: &mut Conn, username: &str) -> Result<User, AppError> {
    if Username::parse(username).is_err() {
        return Err(AppError::NotFound("profile"));
    }
    User::find_by_username(conn, username)
        .await?
        .ok_or(AppError::NotFound("profile"))
}

/// The profile of `username` as everyone sees it, from the cache when it has it.
async fn profile(state: &AppState, username: &str) -> Result<ProfileView, AppError> {
    if Username::parse(username).is_err() {
        return Err(AppError::NotFound("profile"));
    }
    state
        .cache
        .get_or_load(
            &cached::profile(username),
            cached::ttl(state.cache_settings.profile_ttl_secs),
            async || {
                let mut conn = state.db.read().await?;
                let user = User::find_by_username(&mut conn, username).await?;
                Ok(user.map(|user| ProfileView::of(&user, false)))
            },
        )
        .await?
        .ok_or(AppError::NotFound("profile"))
}

/// Whether `viewer` follows `profile`.
async fn mark_following(
    state: &AppState,
    profile: &mut ProfileView,
    viewer: Option<i64>,
) -> Result<(), AppError> {
    if let Some(viewer) = viewer.filter(|viewer| *viewer != profile.id) {
        let mut conn = state.db.read().await?;
        profile.following = Follow::followed_among(&mut conn, viewer, &[profile.id])
            .await?
            .contains(&profile.id);
    }
    Ok(())
}

/// The profile of `username` as `viewer` sees it.
pub async fn show(
    state: &AppState,
    username: &str,
    viewer: Option<i64>,
) -> Result<ProfileView, AppError> {
    let mut profile = profile(state, username).await?;
    mark_following(state, &mut profile, viewer).await?;
    Ok(profile)
}

/// The profile of `username` with its follow counts (the profile page).
pub async fn show_with_counts(
    state: &AppState,
    username: &str,
    viewer: Option<i64>,
) -> Result<(ProfileView, FollowCounts), AppError> {
    let mut profile = profile(state, username).await?;
    let counts = state
        .cache
        .get_or_load(
            &cached::follow_counts(profile.id),
            cached::ttl(state.cache_settings.profile_ttl_secs),
            async || {
                let mut conn = state.db.read().await?;
                let (followers, following) = Follow::counts(&mut conn, profile.id).await?;
                Ok(Some(FollowCounts {
                    followers,
                    following,
                }))
            },
        )
        .await?
        .unwrap_or_default();
    mark_following(state, &mut profile, viewer).await?;
    Ok((profile, counts))
}

/// `follower` follows `username`.
#[tracing::instrument(skip(state, follower), fields(follower = follower.id))]
pub async fn follow(
    state: &AppState,
    follower: &User,
    username: &str,
) -> Result<ProfileView, AppError> {
    let mut conn = state.db.write().await?;
    let user = find_user(&mut conn, username).await?;
    if user.id == follower.id {
        return Err(AppError::invalid("user", "cannot follow themselves"));
    }
    // The account may be deleted between the lookup and the insert.
    Follow::create(&mut conn, follower.id, user.id)
        .await
        .map_err(super::unless_gone("profile"))?;
    forget_counts(state, follower, &user).await;
    Ok(ProfileView::of(&user, true))
}

/// `follower` stops following `username`.
#[tracing::instrument(skip(state, follower), fields(follower = follower.id))]
pub async fn unfollow(
    state: &AppState,
    follower: &User,
    username: &str,
) -> Result<ProfileView, AppError> {
    let mut conn = state.db.write().await?;
    let user = find_user(&mut conn, username).await?;
    Follow::delete(&mut conn, follower.id, user.id).await?;
    forget_counts(state, follower, &user).await;
    Ok(ProfileView::of(&user, false))
}

/// A follow changed both users' counts.
async fn forget_counts(state: &AppState, follower: &User, followee: &User) {
    state
        .cache
        .invalidate(Invalidation {
            keys: vec![
                cached::follow_counts(follower.id),
                cached::follow_counts(followee.id),
            ],
            generations: Vec::new(),
        })
        .await;
}

/// A page of the people directory.
#[derive(Debug, Default)]
pub struct Directory {
    pub people: Vec<Person>,
    /// How many match, counted up to [`DIRECTORY_COUNT_CAP`].
    pub matches: i64,
    /// Where the previous page ends, if there is one.
    pub previous: Option<NameCursor>,
    /// Where the next page starts, if there is one.
    pub next: Option<NameCursor>,
}

/// The directory counts matches up to this many ("1000+").
pub const DIRECTORY_COUNT_CAP: i64 = 1000;

/// People whose username or name starts with `query`, `limit` at a time
/// from `from`, with how many match (up to [`DIRECTORY_COUNT_CAP`]).
pub async fn directory(
    state: &AppState,
    query: &str,
    limit: i64,
    from: &NamePosition,
    viewer: Option<i64>,
) -> Result<Directory, AppError> {
    let query: String = query
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(80)
        .collect();
    let mut conn = state.db.read().await?;
    // One more than shown says whether there is a page beyond.
    let mut found = User::search(&mut conn, &query, limit + 1, from).await?;
    let beyond = found.len() as i64 > limit;
    if beyond {
        match from {
            NamePosition::Before(_) => drop(found.remove(0)),
            _ => found.truncate(limit as usize),
        }
    }
    let cursor = |(user, key): &(User, String)| NameCursor {
        key: key.clone(),
        id: user.id,
    };
    let (first, last) = (found.first().map(cursor), found.last().map(cursor));
    let users: Vec<User> = found.into_iter().map(|(user, _)| user).collect();
    let matches = User::count_matching(&mut conn, &query, DIRECTORY_COUNT_CAP + 1).await?;
    let (previous, next) = match from {
        NamePosition::Start => (None, last.filter(|_| beyond)),
        NamePosition::After(_) => (first, last.filter(|_| beyond)),
        NamePosition::Before(_) => (first.filter(|_| beyond), last),
    };
    let ids: Vec<i64> = users.iter().map(|user| user.id).collect();
    let followed = match viewer {
        Some(viewer) => Follow::followed_among(&mut conn, viewer, &ids).await?,
        None => Default::default(),
    };
    let people = users
        .iter()
        .map(|user| Person {
            profile: ProfileView::of(user, followed.contains(&user.id)),
            followers: i64::from(user.followers_count),
        })
        .collect();
    Ok(Directory {
        people,
        matches,
        previous,
        next,
    })
}
