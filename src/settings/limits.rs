//! The `[limits]` section: how much a client may send.
//!
//! Variables: `APP__LIMITS__JSON_BODY_BYTES`, `APP__LIMITS__FORM_BODY_BYTES`.

use serde::{Deserialize, Serialize};

/// Request body limits; larger bodies are refused with 413.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    /// Largest JSON body the API accepts.
    pub json_body_bytes: usize,
    /// Largest form body the HTML pages accept.
    pub form_body_bytes: usize,
}
