//! Printing settings without leaking secrets.

use secrecy::{ExposeSecret, SecretString};
use serde::Serializer;

use super::Settings;

/// Serializes a secret as `********`, or as an empty string when it is unset.
pub(super) fn masked<S: Serializer>(
    secret: &SecretString,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    if secret.expose_secret().is_empty() {
        serializer.serialize_str("")
    } else {
        serializer.serialize_str("********")
    }
}

pub(super) fn to_toml(settings: &Settings) -> anyhow::Result<String> {
    Ok(toml::to_string_pretty(settings)?)
}
