//! Profiles, follows and the people directory.

use crate::domain::account::Username;
use crate::error::AppError;
use crate::models::{Conn, Follow, User};
use crate::state::AppState;

use super::ProfileView;

/// Follower and following counts shown on a profile page.
#[derive(Debug, Clone, Copy, Default)]
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

/// The profile of `username` as `viewer` sees it.
pub async fn show(
    state: &AppState,
    username: &str,
    viewer: Option<i64>,
) -> Result<ProfileView, AppError> {
    let mut conn = state.db.read().await?;
    let user = find_user(&mut conn, username).await?;
    let following = is_following(&mut conn, viewer, user.id).await?;
    Ok(ProfileView::of(&user, following))
}

/// The profile of `username` with its follow counts.
pub async fn show_with_counts(
    state: &AppState,
    username: &str,
    viewer: Option<i64>,
) -> Result<(ProfileView, FollowCounts), AppError> {
    let mut conn = state.db.read().await?;
    let user = find_user(&mut conn, username).await?;
    let following = is_following(&mut conn, viewer, user.id).await?;
    let (followers, follows) = Follow::counts(&mut conn, user.id).await?;
    Ok((
        ProfileView::of(&user, following),
        FollowCounts {
            followers,
            following: follows,
        },
    ))
}

/// `follower` follows `username`.
#[tracing::instrument(skip(state))]
pub async fn follow(
    state: &AppState,
    follower: i64,
    username: &str,
) -> Result<ProfileView, AppError> {
    let mut conn = state.db.write().await?;
    let user = find_user(&mut conn, username).await?;
    if user.id == follower {
        return Err(AppError::invalid("user", "cannot follow themselves"));
    }
    Follow::create(&mut conn, follower, user.id).await?;
    Ok(ProfileView::of(&user, true))
}

/// `follower` stops following `username`.
#[tracing::instrument(skip(state))]
pub async fn unfollow(
    state: &AppState,
    follower: i64,
    username: &str,
) -> Result<ProfileView, AppError> {
    let mut conn = state.db.write().await?;
    let user = find_user(&mut conn, username).await?;
    Follow::delete(&mut conn, follower, user.id).await?;
    Ok(ProfileView::of(&user, false))
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

async fn is_following(conn: &mut Conn, viewer: Option<i64>, user: i64) -> Result<bool, AppError> {
    Ok(match viewer {
        Some(viewer) if viewer != user => Follow::followed_among(conn, viewer, &[user])
            .await?
            .contains(&user),
        _ => false,
    })
}
