//! `POST /settings/sign-out-everywhere`: end every session of the account, on
//! every browser and device, this one included, and every API token issued
//! to it.

use actix_web::{HttpResponse, web};

use crate::error::PageError;
use crate::routes::web::page::{NoFields, Page, VerifiedForm};
use crate::routes::web::redirect::{see_other, to_login};
use crate::services::accounts;
use crate::state::AppState;

#[tracing::instrument(skip_all)]
pub async fn submit(
    state: web::Data<AppState>,
    page: Page,
    _: VerifiedForm<NoFields>,
) -> Result<HttpResponse, PageError> {
    let Some(user) = &page.viewer else {
        return Ok(to_login("/settings"));
    };
    accounts::sign_out_everywhere(&state, user).await?;
    page.sign_out(Some(
        "You have been signed out on every browser and device.",
    ));
    Ok(see_other("/login"))
}
