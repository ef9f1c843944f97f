//! `POST /profile/{username}/follow`

use actix_web::{HttpResponse, web};

use crate::error::PageError;
use crate::routes::web::page::{NoFields, Page, VerifiedForm};
use crate::routes::web::redirect::{local_or, see_other, to_login};
use crate::services::profiles;
use crate::state::AppState;

#[tracing::instrument(skip(state, page, form))]
pub async fn submit(
    state: web::Data<AppState>,
    page: Page,
    username: web::Path<String>,
    VerifiedForm(form): VerifiedForm<NoFields>,
) -> Result<HttpResponse, PageError> {
    let profile_path = format!("/profile/{username}");
    let Some(viewer) = &page.viewer else {
        return Ok(to_login(&profile_path));
    };
    profiles::follow(&state, viewer, &username).await?;
    Ok(see_other(&local_or(&form.next, &profile_path)))
}
