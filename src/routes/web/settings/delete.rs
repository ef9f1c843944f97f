//! `GET|POST /settings/delete`: delete the account, after the password.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::domain::FieldErrors;
use crate::error::{AppError, PageError};
use crate::routes::web::page::{Page, VerifiedForm};
use crate::routes::web::redirect::{see_other, to_login};
use crate::services::accounts;
use crate::state::AppState;
use crate::views::account::DeleteAccountPage;
use crate::views::{render, render_invalid};

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    password: String,
}

pub async fn confirm(page: Page) -> Result<HttpResponse, PageError> {
    let Some(user) = &page.viewer else {
        return Ok(to_login("/settings/delete"));
    };
    render(&DeleteAccountPage {
        page: &page,
        username: &user.username,
        errors: &FieldErrors::default(),
    })
}

#[tracing::instrument(skip_all)]
pub async fn submit(
    state: web::Data<AppState>,
    page: Page,
    VerifiedForm(form): VerifiedForm<DeleteForm>,
) -> Result<HttpResponse, PageError> {
    let Some(user) = &page.viewer else {
        return Ok(to_login("/settings/delete"));
    };
    match accounts::delete(&state, user, &form.password).await {
        Ok(()) => {
            page.sign_out(Some("Your account has been deleted."));
            Ok(see_other("/"))
        }
        Err(AppError::Validation(errors)) => render_invalid(&DeleteAccountPage {
            page: &page,
            username: &user.username,
            errors: &errors,
        }),
        Err(other) => Err(other.into()),
    }
}
