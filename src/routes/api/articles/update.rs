//! `PUT /api/articles/{slug}`: the author changes their article. A new title
//! gives a new slug; `tagList`, when present, replaces the tags.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::ArticleRequest;
use crate::error::ApiError;
use crate::routes::api::extract::ApiUser;
use crate::routes::api::json::ArticleBody;
use crate::services::articles::{self, Revision, TagInput};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Changes {
    title: Option<String>,
    description: Option<String>,
    body: Option<String>,
    tag_list: Option<Vec<String>>,
}

#[tracing::instrument(skip(state, user, body))]
pub async fn update(
    state: web::Data<AppState>,
    ApiUser(user): ApiUser,
    slug: web::Path<String>,
    body: web::Json<ArticleRequest<Changes>>,
) -> Result<HttpResponse, ApiError> {
    let changes = &body.article;
    let revision = Revision {
        title: changes.title.as_deref(),
        description: changes.description.as_deref(),
        body: changes.body.as_deref(),
        tags: changes
            .tag_list
            .as_deref()
            .map_or(TagInput::Unchanged, TagInput::List),
    };
    let article = articles::revise(&state, &user, &slug, revision).await?;
    Ok(HttpResponse::Ok().json(ArticleBody::from(&article)))
}
