//! `GET|POST /login`: sign in.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::domain::FieldErrors;
use crate::error::{AppError, PageError};
use crate::routes::web::page::{Page, VerifiedForm};
use crate::routes::web::redirect::{local_or, see_other};
use crate::services::accounts;
use crate::state::AppState;
use crate::views::account::LoginPage;
use crate::views::{render, render_invalid, render_with_status};

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn form(page: Page, query: web::Query<LoginQuery>) -> Result<HttpResponse, PageError> {
    let next = local_or(query.next.as_deref().unwrap_or("/"), "/");
    if page.viewer.is_some() {
        return Ok(see_other(&next));
    }
    render(&LoginPage {
        page: &page,
        email: "",
        next: &next,
        errors: &FieldErrors::default(),
        failure: None,
    })
}

#[tracing::instrument(skip_all)]
pub async fn submit(
    state: web::Data<AppState>,
    page: Page,
    VerifiedForm(form): VerifiedForm<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let next = local_or(&form.next, "/");
    match accounts::authenticate(&state, &form.email, &form.password).await {
        Ok(user) => {
            page.sign_in(&user)?;
            Ok(see_other(&next))
        }
        Err(AppError::Validation(errors)) => render_invalid(&LoginPage {
            page: &page,
            email: &form.email,
            next: &next,
            errors: &errors,
            failure: None,
        }),
        Err(AppError::InvalidCredentials) => render_with_status(
            StatusCode::UNAUTHORIZED,
            &LoginPage {
                page: &page,
                email: &form.email,
                next: &next,
                errors: &FieldErrors::default(),
                failure: Some("That email and password do not match an account.".to_string()),
            },
        ),
        Err(AppError::TooManyAttempts { retry_after_secs }) => {
            let mut response = render_with_status(
                StatusCode::TOO_MANY_REQUESTS,
                &LoginPage {
                    page: &page,
                    email: &form.email,
                    next: &next,
                    errors: &FieldErrors::default(),
                    failure: Some(format!(
                        "Too many failed sign-ins on this account. Try again in {} minute(s).",
                        retry_after_secs.div_ceil(60)
                    )),
                },
            )?;
            response.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(retry_after_secs),
            );
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}
