//! Profiles, follows and the people directory.

use crate::domain::account::Username;
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

/// A profile as everyone sees it: what the cache holds.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct ProfileEntry {
    profile: ProfileView,
    counts: FollowCounts,
}

/// The profile of `username` and its counts, from the cache when it has them.
async fn entry(state: &AppState, username: &str) -> Result<ProfileEntry, AppError> {
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
                let Some(user) = User::find_by_username(&mut conn, username).await? else {
                    return Ok(None);
                };
                let (followers, following) = Follow::counts(&mut conn, user.id).await?;
                Ok(Some(ProfileEntry {
                    profile: ProfileView::of(&user, false),
                    counts: FollowCounts {
                        followers,
                        following,
                    },
                }))
            },
        )
        .await?
        .ok_or(AppError::NotFound("profile"))
}

/// The profile of `username` as `viewer` sees it.
pub async fn show(
    state: &AppState,
    username: &str,
    viewer: Option<i64>,
) -> Result<ProfileView, AppError> {
    Ok(show_with_counts(state, username, viewer).await?.0)
}

/// The profile of `username` with its follow counts.
pub async fn show_with_counts(
    state: &AppState,
    username: &str,
    viewer: Option<i64>,
) -> Result<(ProfileView, FollowCounts), AppError> {
    let ProfileEntry {
        mut profile,
        counts,
    } = entry(state, username).await?;
    if let Some(viewer) = viewer.filter(|viewer| *viewer != profile.id) {
        let mut conn = state.db.read().await?;
        profile.following = Follow::followed_among(&mut conn, viewer, &[profile.id])
            .await?
            .contains(&profile.id);
    }
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
    Follow::create(&mut conn, follower.id, user.id).await?;
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

/// A follow changed both profiles' counts.
async fn forget_counts(state: &AppState, follower: &User, followee: &User) {
    state
        .cache
        .invalidate(Invalidation {
            keys: vec![
                cached::profile(&follower.username),
                cached::profile(&followee.username),
            ],
            generations: Vec::new(),
        })
        .await;
}

/// People whose username or name starts with `query`, a page at a time,
/// with the total number of matches.
pub async fn directory(
    state: &AppState,
    query: &str,
    limit: i64,
    offset: i64,
    viewer: Option<i64>,
) -> Result<(Vec<Person>, i64), AppError> {
    let query: String = query
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(80)
        .collect();
    let mut conn = state.db.read().await?;
    let (users, total) = User::search(&mut conn, &query, limit, offset).await?;
    let ids: Vec<i64> = users.iter().map(|user| user.id).collect();
    let followers = Follow::follower_counts(&mut conn, &ids).await?;
    let followed = match viewer {
        Some(viewer) => Follow::followed_among(&mut conn, viewer, &ids).await?,
        None => Default::default(),
    };
    let people = users
        .iter()
        .map(|user| Person {
            profile: ProfileView::of(user, followed.contains(&user.id)),
            followers: followers.get(&user.id).copied().unwrap_or(0),
        })
        .collect();
    Ok((people, total))
}
