//! `POST /api/articles`

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::ArticleRequest;
use crate::error::ApiError;
use crate::routes::api::extract::ApiUser;
use crate::routes::api::json::ArticleBody;
use crate::services::articles::{self, Draft, TagInput};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewArticle {
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    body: String,
    tag_list: Option<Vec<String>>,
}

#[tracing::instrument(skip_all)]
pub async fn create(
    state: web::Data<AppState>,
    ApiUser(user): ApiUser,
    body: web::Json<ArticleRequest<NewArticle>>,
) -> Result<HttpResponse, ApiError> {
    let input = &body.article;
    let draft = Draft {
        title: &input.title,
        description: &input.description,
        body: &input.body,
        tags: input
            .tag_list
            .as_deref()
            .map_or(TagInput::Unchanged, TagInput::List),
    };
    let article = articles::publish(&state, &user, draft).await?;
    Ok(HttpResponse::Created().json(ArticleBody::from(&article)))
}
