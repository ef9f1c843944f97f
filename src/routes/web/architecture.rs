//! `GET /architecture?refresh=N`: the running topology, and which parts
//! served this request.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::page::Page;
use crate::client::ClientInfo;
use crate::error::PageError;
use crate::report;
use crate::services::articles;
use crate::state::AppState;
use crate::tiers;
use crate::views::architecture::{
    ArchitecturePage, Diagram, ServerRelease, ThisRequest, phase_title,
};
use crate::views::render;

#[derive(Deserialize)]
pub struct ArchitectureQuery {
    refresh: Option<String>,
}

pub async fn show(
    state: web::Data<AppState>,
    page: Page,
    request: HttpRequest,
    query: web::Query<ArchitectureQuery>,
) -> Result<HttpResponse, PageError> {
    let client = ClientInfo::of(&request);
    // A real cached read, so the page can show how the cache answered.
    let popular_tags = articles::popular_tags(&state).await?;
    let now = chrono::Utc::now();
    let releases = state
        .servers
        .listed()
        .iter()
        .map(|server| ServerRelease::of(server, now, &state.instance))
        .collect();
    let so_far = report::so_far();
    let this_request = ThisRequest {
        app_server: state.instance.clone(),
        database_node: state.db.primary_address().to_string(),
        session_store: state.sessions.name(),
        client: client.address_text(),
        proxy: client.proxy.map(|proxy| proxy.to_string()),
        cache_tier: state.cache.enabled().then(|| state.cache.describe()),
        cache: so_far.cache,
        queries: so_far.queries,
        read_nodes: so_far.read_nodes.iter().map(ToString::to_string).collect(),
        replicas: state.db.replicas().nodes(),
    };
    let architecture = &state.architecture;
    let refresh = query
        .refresh
        .as_deref()
        .and_then(|seconds| seconds.parse::<u32>().ok())
        .map(|seconds| seconds.clamp(1, 60));
    render(&ArchitecturePage {
        page: &page,
        phase: architecture.phase,
        title: phase_title(architecture.phase),
        diagram: Diagram::new(architecture, &this_request),
        request: this_request,
        features: tiers::FEATURES.to_vec(),
        popular_tags,
        releases,
        refresh,
    })
}
