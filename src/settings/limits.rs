//! The `[limits]` section: how much a client may send.
//!
//! Variables: `APP__LIMITS__JSON_BODY_BYTES`, `APP__LIMITS__FORM_BODY_BYTES`,
//! `APP__LIMITS__SIGNIN_FAILURES`, `APP__LIMITS__SIGNIN_WINDOW_SECS`.

use serde::{Deserialize, Serialize};

/// Request body limits; larger bodies are refused with 413.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    /// Largest JSON body the API accepts.
    pub json_body_bytes: usize,
    /// Largest form body the HTML pages accept.
    pub form_body_bytes: usize,
    /// Failed sign-ins an account may have within the window before
    /// further attempts on it answer 429 (0 turns the limit off).
    #[serde(default = "default_signin_failures")]
    pub signin_failures: u32,
    /// The window, in seconds, counted from the first failure.
    #[serde(default = "default_signin_window_secs")]
    pub signin_window_secs: u64,
}

fn default_signin_failures() -> u32 {
    10
}

fn default_signin_window_secs() -> u64 {
    600
}
