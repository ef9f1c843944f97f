//! Signing up, in and out.

pub mod login;
pub mod logout;
pub mod register;
