//! HTTP routes: the JSON API under `/api`, the HTML pages everywhere else, and
//! the health probes. Each area exposes `config` for `App::configure`.

pub mod api;
pub mod health;
pub mod metrics;
pub mod web;
