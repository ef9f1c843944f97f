//! Values parsed from user input: once constructed, they are valid.
//!
//! Each type's `parse` returns the message to show next to its field.

pub mod account;
pub mod article;
pub mod comment;
mod field_errors;
pub mod paging;
pub mod profile;
pub mod text;

pub use field_errors::FieldErrors;
