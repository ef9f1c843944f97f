//! million: a Conduit-style social site (accounts, profiles, follows,
//! articles, comments, favorites, tags, feeds) with server-rendered pages and
//! the RealWorld JSON API, built to walk the scaling road from one server to
//! many.

pub mod auth;
pub mod bench;
pub mod cli;
pub mod client;
pub mod content;
pub mod db;
pub mod domain;
pub mod error;
pub mod load;
pub mod models;
pub mod process;
pub mod release;
pub mod report;
pub mod routes;
pub mod schema;
pub mod seed;
pub mod services;
pub mod settings;
pub mod stack;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tiers;
pub mod tls;
pub mod views;
