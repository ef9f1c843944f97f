//! Filling in the `{{NAME}}` placeholders of the configs under `deploy/`.
//!
//! The files stay the real configs a team would use; the stack runner only
//! substitutes addresses, paths and sizes. A placeholder left without a value
//! is an error naming it, never a silently broken config.

use std::path::Path;

use anyhow::{Context, bail};

/// `template` with every `{{NAME}}` replaced by its value in `values`.
pub fn render(template: &str, values: &[(&str, String)], origin: &str) -> anyhow::Result<String> {
    let mut output = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        output.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            bail!("{origin}: a `{{{{` is never closed");
        };
        let name = after[..end].trim();
        match values.iter().find(|(key, _)| *key == name) {
            Some((_, value)) => output.push_str(value),
            None => bail!("{origin}: no value for the placeholder {{{{{name}}}}}"),
        }
        rest = &after[end + 2..];
    }
    output.push_str(rest);
    Ok(output)
}

/// Renders the template file `source` into `target`.
pub fn render_file(source: &Path, target: &Path, values: &[(&str, String)]) -> anyhow::Result<()> {
    let template = std::fs::read_to_string(source)
        .with_context(|| format!("reading the config template {}", source.display()))?;
    let rendered = render(&template, values, &source.display().to_string())?;
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(target, rendered).with_context(|| format!("writing {}", target.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled() {
        let text = render(
            "listen {{ LISTEN }};\nroot {{ROOT}};",
            &[("LISTEN", "127.0.0.1:8080".into()), ("ROOT", "/srv".into())],
            "t",
        )
        .unwrap();
        assert_eq!(text, "listen 127.0.0.1:8080;\nroot /srv;");
    }

    #[test]
    fn a_missing_value_is_named() {
        let error = render("a {{MISSING}} b", &[], "nginx.conf")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("{{MISSING}}") && error.contains("nginx.conf"),
            "{error}"
        );
    }

    #[test]
    fn an_unclosed_placeholder_is_an_error() {
        assert!(render("a {{ b", &[], "x").is_err());
    }
}
