//! Logging: one `tracing` subscriber for the whole process.
//!
//! `RUST_LOG` overrides the configured level filter.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::client::ClientInfo;
use crate::settings::{LogFormat, LogSettings};

/// Installs the global subscriber; later calls are ignored (tests call it once per test).
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::NONE)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match settings.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

/// One span per request, and one access line (`million::access`) when it
/// ends, with the client as far as the trusted proxies vouch for it.
pub struct RequestSpan;

struct Started(Instant);

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let client = ClientInfo::of(request.request());
        request.extensions_mut().insert(Started(Instant::now()));
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.path(),
            client = %client.address_text(),
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let (status, elapsed) = match outcome {
            Ok(response) => (
                response.status().as_u16(),
                response
                    .request()
                    .extensions()
                    .get::<Started>()
                    .map(|started| started.0.elapsed()),
            ),
            Err(error) => (error.as_response_error().status_code().as_u16(), None),
        };
        let millis = elapsed.map_or(0.0, |elapsed| elapsed.as_secs_f64() * 1000.0);
        tracing::info!(target: "million::access", parent: &span, status, millis = format!("{millis:.1}"), "served");
    }
}
