//! `GET|POST /register`: sign up.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::domain::FieldErrors;
use crate::error::{AppError, PageError};
use crate::routes::web::page::{Page, VerifiedForm};
use crate::routes::web::redirect::see_other;
use crate::services::accounts::{self, Registration};
use crate::state::AppState;
use crate::views::account::RegisterPage;
use crate::views::{render, render_invalid};

#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub async fn form(page: Page) -> Result<HttpResponse, PageError> {
    if page.viewer.is_some() {
        return Ok(see_other("/"));
    }
    render(&RegisterPage {
        page: &page,
        username: "",
        email: "",
        errors: &FieldErrors::default(),
    })
}

#[tracing::instrument(skip_all)]
pub async fn submit(
    state: web::Data<AppState>,
    page: Page,
    VerifiedForm(form): VerifiedForm<RegisterForm>,
) -> Result<HttpResponse, PageError> {
    let registration = Registration {
        username: &form.username,
        email: &form.email,
        password: &form.password,
    };
    match accounts::register(&state, registration).await {
        Ok(user) => {
            page.sign_in(&user)?;
            page.flash(&format!("Welcome to million, {}!", user.username));
            Ok(see_other("/"))
        }
        Err(AppError::Validation(errors)) => render_invalid(&RegisterPage {
            page: &page,
            username: &form.username,
            email: &form.email,
            errors: &errors,
        }),
        Err(other) => Err(other.into()),
    }
}
