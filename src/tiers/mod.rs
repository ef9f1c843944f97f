//! The optional tiers, and the one place Cargo features are read.
//!
//! Each tier is a module with the same API whether its feature is on or off;
//! this file picks the form. The "off" forms are uninhabited types, so code
//! elsewhere needs no `#[cfg]`: a variant holding one can never be built.
//! A binary built without a tier refuses a configuration that asks for it.

#[cfg_attr(feature = "stateless-sessions", path = "cookie_sessions_on.rs")]
#[cfg_attr(not(feature = "stateless-sessions"), path = "cookie_sessions_off.rs")]
pub mod cookie_sessions;

mod cache_common;

#[cfg_attr(feature = "cache", path = "cache_on/mod.rs")]
#[cfg_attr(not(feature = "cache"), path = "cache_off.rs")]
pub mod cache;

pub mod replicas_common;

#[cfg_attr(feature = "replicas", path = "replicas_on/mod.rs")]
#[cfg_attr(not(feature = "replicas"), path = "replicas_off.rs")]
pub mod replicas;

use anyhow::bail;

/// Every optional feature and whether this binary was built with it.
pub const FEATURES: &[(&str, bool)] = &[
    ("stateless-sessions", cfg!(feature = "stateless-sessions")),
    ("cache", cfg!(feature = "cache")),
    ("replicas", cfg!(feature = "replicas")),
];

/// The features this binary was built with.
pub fn enabled() -> Vec<&'static str> {
    FEATURES
        .iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| *name)
        .collect()
}

/// Refuses `setting` unless this binary has `feature`.
pub fn require(feature: &str, setting: &str) -> anyhow::Result<()> {
    match FEATURES.iter().find(|(name, _)| *name == feature) {
        Some((_, true)) => Ok(()),
        Some((_, false)) => bail!(
            "{setting} needs the `{feature}` tier, but this binary was built without it: \
             rebuild with `cargo build --release --features {feature}`"
        ),
        None => bail!("unknown feature `{feature}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_features_are_named_with_the_build_command() {
        for (feature, on) in FEATURES {
            let result = require(feature, "some.setting");
            assert_eq!(result.is_ok(), *on);
            if let Err(error) = result {
                let message = error.to_string();
                assert!(
                    message.contains(&format!("--features {feature}")),
                    "{message}"
                );
                assert!(message.contains("some.setting"), "{message}");
            }
        }
    }
}
