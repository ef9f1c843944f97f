//! Accounts: sign up, sign in, change settings, delete.

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use crate::domain::FieldErrors;
use crate::domain::account::{EmailAddress, Password, Username};
use crate::domain::profile::{Bio, DisplayName, ImageUrl};
use crate::error::AppError;
use crate::models::{
    Article, Comment, Conn, Favorite, Follow, NewUser, RevokedSession, User, UserChanges,
    unique_violation,
};
use crate::services::cached;
use crate::state::AppState;
use crate::tiers::cache::Invalidation;

/// What someone signing up typed.
#[derive(Debug, Clone, Copy)]
pub struct Registration<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a str,
}

/// Creates an account.
#[tracing::instrument(skip_all, fields(username = input.username))]
pub async fn register(state: &AppState, input: Registration<'_>) -> Result<User, AppError> {
    let mut errors = FieldErrors::default();
    let username = errors.check("username", Username::parse(input.username));
    let email = errors.check("email", EmailAddress::parse(input.email));
    let password = errors.check("password", Password::parse(input.password));
    let (Some(username), Some(email), Some(password)) = (username, email, password) else {
        return Err(errors.into());
    };
    {
        // Refuse taken names before spending a hash on them.
        let mut conn = state.db.read().await?;
        let taken = check_available(&mut conn, None, Some(&username), Some(&email)).await?;
        if !taken.is_empty() {
            return Err(taken.into());
        }
    }
    let password_hash = state.passwords.hash(password.secret()).await?;
    let mut conn = state.db.write().await?;
    let new = NewUser {
        username: username.as_str(),
        email: email.as_str(),
        password_hash: &password_hash,
    };
    let user = User::create(&mut conn, new).await.map_err(taken_error)?;
    // Its author from now on: their next reads wait for this write.
    crate::report::viewer(user.id);
    // "No such profile" may be cached for this name.
    state
        .cache
        .invalidate(Invalidation {
            keys: vec![cached::profile(&user.username)],
            generations: Vec::new(),
        })
        .await;
    Ok(user)
}

/// Signs in with an email and password. Which of the two was wrong is not said.
#[tracing::instrument(skip_all)]
pub async fn authenticate(state: &AppState, email: &str, password: &str) -> Result<User, AppError> {
    let mut errors = FieldErrors::default();
    if email.trim().is_empty() {
        errors.add("email", "can't be blank");
    }
    if password.is_empty() {
        errors.add("password", "can't be blank");
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    // Before any hashing: a guesser's attempts cost no hashing slot.
    state.signin_throttle.check(&state.cache, email).await?;
    let user = {
        // The primary: a replica may not have the account just registered,
        // or may still hold the password just changed.
        let mut conn = state.db.read_current().await?;
        User::find_by_email(&mut conn, email.trim()).await?
    };
    let stored = user.as_ref().map(|user| user.password_hash.clone());
    let secret = SecretString::from(password.to_string());
    match (state.passwords.verify(&secret, stored).await?, user) {
        (true, Some(user)) => {
            crate::report::viewer(user.id);
            Ok(user)
        }
        _ => {
            state.signin_throttle.failed(&state.cache, email).await;
            Err(AppError::InvalidCredentials)
        }
    }
}

/// Settings someone submitted; `None` leaves a setting unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct SettingsUpdate<'a> {
    pub username: Option<&'a str>,
    pub email: Option<&'a str>,
    pub password: Option<&'a str>,
    pub name: Option<&'a str>,
    pub bio: Option<&'a str>,
    pub image: Option<&'a str>,
    /// The password the account has now, and whether changing the email
    /// address or the password needs it.
    pub current_password: CurrentPassword<'a>,
}

/// The current password given with a change of credentials.
#[derive(Debug, Clone, Copy, Default)]
pub struct CurrentPassword<'a> {
    /// What was typed, if anything.
    pub given: Option<&'a str>,
    /// Whether a new email address or password is refused without it.
    pub required: bool,
    /// The input field it came in, for the error message.
    pub field: &'static str,
}

impl CurrentPassword<'_> {
    /// Refuses a change of credentials without `user`'s current password:
    /// someone who finds a browser signed in cannot take the account over.
    async fn check(&self, state: &AppState, user: &User) -> Result<(), AppError> {
        match self.given.filter(|given| !given.is_empty()) {
            _ if !self.required => Ok(()),
            None => Err(AppError::invalid(
                self.field,
                "is needed to change your email or password",
            )),
            Some(given) => confirm_password(state, user, given, self.field).await,
        }
    }
}

/// Refuses unless `given` (typed in `field`) is `user`'s current password.
async fn confirm_password(
    state: &AppState,
    user: &User,
    given: &str,
    field: &'static str,
) -> Result<(), AppError> {
    if given.is_empty() {
        return Err(AppError::invalid(field, "can't be blank"));
    }
    let secret = SecretString::from(given.to_string());
    if state
        .passwords
        .verify(&secret, Some(user.password_hash.clone()))
        .await?
    {
        Ok(())
    } else {
        Err(AppError::invalid(field, "is not your current password"))
    }
}

/// Changes `user`'s settings and returns the account as saved.
#[tracing::instrument(skip_all, fields(user = user.id))]
pub async fn update(
    state: &AppState,
    user: &User,
    input: SettingsUpdate<'_>,
) -> Result<User, AppError> {
    let mut errors = FieldErrors::default();
    let username = input
        .username
        .and_then(|raw| errors.check("username", Username::parse(raw)));
    let email = input
        .email
        .and_then(|raw| errors.check("email", EmailAddress::parse(raw)));
    let password = input
        .password
        .and_then(|raw| errors.check("password", Password::parse(raw)));
    let name = input
        .name
        .and_then(|raw| errors.check("name", DisplayName::parse(raw)));
    let bio = input
        .bio
        .and_then(|raw| errors.check("bio", Bio::parse(raw)));
    let image = input
        .image
        .and_then(|raw| errors.check("image", ImageUrl::parse(raw)));
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let nothing_given = [
        input.username,
        input.email,
        input.password,
        input.name,
        input.bio,
        input.image,
    ]
    .iter()
    .all(Option::is_none);
    if nothing_given {
        return Err(AppError::invalid(
            "user",
            "must contain at least one setting to change",
        ));
    }
    let new_email = email
        .as_ref()
        .is_some_and(|email| !email.as_str().eq_ignore_ascii_case(&user.email));
    if new_email || password.is_some() {
        input.current_password.check(state, user).await?;
    }
    {
        let mut conn = state.db.read().await?;
        let taken =
            check_available(&mut conn, Some(user.id), username.as_ref(), email.as_ref()).await?;
        if !taken.is_empty() {
            return Err(taken.into());
        }
    }
    let password_hash = match &password {
        Some(password) => Some(state.passwords.hash(password.secret()).await?),
        None => None,
    };
    let changes = UserChanges {
        username: username.map(|username| username.as_str().to_string()),
        email: email.map(|email| email.as_str().to_string()),
        password_hash,
        name: name.map(DisplayName::into_inner),
        bio: bio.map(Bio::into_inner),
        image: image.map(ImageUrl::into_inner),
    };
    let mut conn = state.db.write().await?;
    // Signed out everywhere (or the password changed) since this request's
    // session or token was checked: it may change nothing.
    let saved = User::update(&mut conn, user.id, user.session_generation, changes)
        .await
        .map_err(taken_error)?
        .ok_or(AppError::Unauthenticated("is invalid"))?;
    // Their name, bio and avatar appear in their profile and, as the author,
    // in their articles, their comment threads and the article lists.
    let mut forget = authored_entries(&mut conn, user.id).await?;
    forget.keys.push(cached::profile(&user.username));
    forget.keys.push(cached::profile(&saved.username));
    state.cache.invalidate(forget).await;
    if saved.session_generation != user.session_generation {
        // A new password ended every token: no server may accept one once we answer.
        drop(conn);
        state.cache.sessions_ended(user.id).await;
    }
    Ok(saved)
}

/// Signs `user` out of every browser and invalidates every API token issued
/// to them so far.
#[tracing::instrument(skip_all, fields(user = user.id))]
pub async fn sign_out_everywhere(state: &AppState, user: &User) -> Result<(), AppError> {
    let ended = {
        let mut conn = state.db.write().await?;
        User::end_sessions(&mut conn, user.id).await?
    };
    if ended {
        state.cache.sessions_ended(user.id).await;
        Ok(())
    } else {
        Err(AppError::NotFound("user"))
    }
}

/// Ends browser session `session` of `user` for good: until `expires_at`,
/// when it would have expired anyway, it is refused even if its cookie is
/// presented again.
#[tracing::instrument(skip_all, fields(user))]
pub async fn end_session(
    state: &AppState,
    user: i64,
    session: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), AppError> {
    let mut conn = state.db.write().await?;
    RevokedSession::revoke(&mut conn, session, user, expires_at).await?;
    Ok(())
}

/// Every cached entry that shows `user` as an author.
async fn authored_entries(conn: &mut Conn, user: i64) -> Result<Invalidation, AppError> {
    let mut keys = Vec::new();
    for (id, slug) in Article::slugs_by_author(conn, user).await? {
        keys.push(cached::article(&slug));
        keys.push(cached::comments(id));
    }
    for article in Comment::article_ids_by_author(conn, user).await? {
        keys.push(cached::comments(article));
    }
    Ok(Invalidation {
        keys,
        generations: vec![cached::LIST_GENERATION.to_string()],
    })
}

/// Deletes `user` after checking their password; their articles, comments,
/// follows and favorites go with the account.
#[tracing::instrument(skip_all, fields(user = user.id))]
pub async fn delete(state: &AppState, user: &User, password: &str) -> Result<(), AppError> {
    confirm_password(state, user, password, "password").await?;
    let mut conn = state.db.write().await?;
    // What the deletion will change, gathered while it still exists: their
    // entries, the counts of whom they followed and of what they favorited.
    let mut forget = authored_entries(&mut conn, user.id).await?;
    forget.keys.push(cached::profile(&user.username));
    forget.keys.push(cached::follow_counts(user.id));
    for related in Follow::related(&mut conn, user.id).await? {
        forget.keys.push(cached::follow_counts(related));
    }
    for slug in Favorite::slugs_favorited_by(&mut conn, user.id).await? {
        forget.keys.push(cached::article(&slug));
    }
    forget.keys.extend(cached::TAG_LIST_SIZES.map(cached::tags));
    User::delete(&mut conn, user.id).await?;
    drop(conn);
    state.cache.invalidate(forget).await;
    state.cache.sessions_ended(user.id).await;
    Ok(())
}

/// Messages for a username or email that belongs to someone other than `me`.
async fn check_available(
    conn: &mut Conn,
    me: Option<i64>,
    username: Option<&Username>,
    email: Option<&EmailAddress>,
) -> Result<FieldErrors, AppError> {
    let mut errors = FieldErrors::default();
    if let Some(username) = username
        && let Some(owner) = User::find_by_username(conn, username.as_str()).await?
        && Some(owner.id) != me
    {
        errors.add("username", "has already been taken");
    }
    if let Some(email) = email
        && let Some(owner) = User::find_by_email(conn, email.as_str()).await?
        && Some(owner.id) != me
    {
        errors.add("email", "has already been taken");
    }
    Ok(errors)
}

/// Maps a unique-index collision (two sign-ups racing) to its field message.
fn taken_error(error: diesel::result::Error) -> AppError {
    match unique_violation(&error) {
        Some("users_username_key") => AppError::invalid("username", "has already been taken"),
        Some("users_email_key") => AppError::invalid("email", "has already been taken"),
        _ => error.into(),
    }
}
