//! Turning what users write into what pages show.

pub mod markdown;
