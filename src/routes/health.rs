//! Probes for load balancers and orchestrators.
//!
//! `/healthz` answers while the process serves requests; `/readyz` only when
//! the database also answers within a second (or, with read replicas, while
//! they serve reads with the primary down), so a balancer stops sending
//! traffic to a server that cannot do anything with it. `/version` names
//! the release that answers ([`crate::release`]).

use std::time::Duration;

use actix_web::{HttpResponse, web};

use crate::state::AppState;

/// Registers `/healthz` and `/readyz`, for `GET` and `HEAD` (which answers
/// the same without a body: balancers and uptime checkers send either).
pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/healthz", web::head().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/readyz", web::head().to(readyz))
        .route("/version", web::get().to(version));
}

/// Which release answers: its name, commit, build time and tiers.
async fn version() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(crate::release::current())
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .body("ok\n")
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.db.read_only() || state.db.ping(Duration::from_secs(1)).await {
        HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .body("ready\n")
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header(("Cache-Control", "no-store"))
            .body("database unreachable\n")
    }
}
