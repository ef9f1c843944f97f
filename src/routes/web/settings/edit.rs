//! `GET|POST /settings`: avatar, username, name, bio, email, password.

use actix_web::{HttpResponse, web};

use crate::domain::FieldErrors;
use crate::error::{AppError, PageError};
use crate::routes::web::page::{Page, VerifiedForm};
use crate::routes::web::redirect::{see_other, to_login};
use crate::services::accounts::{self, CurrentPassword, SettingsUpdate};
use crate::state::AppState;
use crate::views::account::{SettingsForm, SettingsPage};
use crate::views::{render, render_invalid};

pub async fn form(page: Page) -> Result<HttpResponse, PageError> {
    let Some(user) = &page.viewer else {
        return Ok(to_login("/settings"));
    };
    let form = SettingsForm {
        image: user.image.clone().unwrap_or_default(),
        username: user.username.clone(),
        name: user.name.clone(),
        bio: user.bio.clone(),
        email: user.email.clone(),
        password: String::new(),
        current_password: String::new(),
    };
    render(&SettingsPage {
        page: &page,
        form: &form,
        errors: &FieldErrors::default(),
    })
}

#[tracing::instrument(skip_all)]
pub async fn submit(
    state: web::Data<AppState>,
    page: Page,
    VerifiedForm(form): VerifiedForm<SettingsForm>,
) -> Result<HttpResponse, PageError> {
    let Some(user) = &page.viewer else {
        return Ok(to_login("/settings"));
    };
    let update = SettingsUpdate {
        username: Some(&form.username),
        email: Some(&form.email),
        password: Some(form.password.as_str()).filter(|password| !password.is_empty()),
        name: Some(&form.name),
        bio: Some(&form.bio),
        image: Some(&form.image),
        current_password: CurrentPassword {
            given: Some(&form.current_password),
            required: true,
            field: "current_password",
        },
    };
    match accounts::update(&state, user, update).await {
        Ok(saved) => {
            // A new password signed every other browser out; not this one.
            if !form.password.is_empty() {
                page.remember(&saved)?;
            }
            page.flash("Your settings have been saved.");
            Ok(see_other(&format!("/profile/{}", saved.username)))
        }
        Err(AppError::Validation(errors)) => {
            // Passwords are never sent back to the browser.
            let form = SettingsForm {
                password: String::new(),
                current_password: String::new(),
                ..form
            };
            render_invalid(&SettingsPage {
                page: &page,
                form: &form,
                errors: &errors,
            })
        }
        Err(other) => Err(other.into()),
    }
}
