//! Who is asking: passwords, API tokens, browser sessions and their
//! anti-forgery tokens.

pub mod browser;
pub mod memory_store;
pub mod password;
pub mod session;
pub mod throttle;
pub mod token;
