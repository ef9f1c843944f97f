//! Layered configuration: `config/base.toml`, then `config/{environment}.toml`
//! picked by `APP_ENVIRONMENT` (`local` by default, or `production`), then
//! `APP__SECTION__KEY` environment variables, then the conventional database
//! variables (`DATABASE_URL`, or `DB_HOST`/`DB_PORT`/`DB_NAME`/`DB_USER`/`DB_PASSWORD`).
//!
//! Variables read here: `APP_ENVIRONMENT`, `APP_CONFIG_DIR` (where the TOML
//! files live, default `config/`), every `APP__…` variable. The database
//! variables are read in [`database`].
//!
//! Unknown keys and values of the wrong type fail at start with the key named.

mod application;
mod architecture;
mod auth;
mod cache;
pub mod database;
mod limits;
mod local_secrets;
mod log;
mod redacted;
mod replicas;
mod session;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

pub use application::ApplicationSettings;
pub use architecture::ArchitectureSettings;
pub use auth::AuthSettings;
pub use cache::CacheSettings;
pub use database::{DatabaseSettings, DatabaseTarget, quote as quote_conninfo};
pub use limits::LimitSettings;
pub use log::{LogFormat, LogSettings};
pub use replicas::ReplicaSettings;
pub use session::{SessionSettings, SessionStoreKind};

/// Everything the application can be configured with.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Which environment file was layered over the base (`local` or `production`).
    #[serde(default)]
    pub environment: Environment,
    pub application: ApplicationSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub session: SessionSettings,
    pub limits: LimitSettings,
    pub log: LogSettings,
    #[serde(default)]
    pub architecture: ArchitectureSettings,
    #[serde(default)]
    pub cache: CacheSettings,
    #[serde(default)]
    pub replicas: ReplicaSettings,
}

/// The deployment environment, which picks `config/{environment}.toml`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    #[default]
    Local,
    Production,
}

impl Environment {
    /// The environment named by `APP_ENVIRONMENT` (default `local`).
    pub fn from_env() -> anyhow::Result<Self> {
        match std::env::var("APP_ENVIRONMENT") {
            Err(_) => Ok(Self::Local),
            Ok(value) => Self::parse(&value),
        }
    }

    fn parse(value: &str) -> anyhow::Result<Self> {
        match value.trim().to_lowercase().as_str() {
            "" | "local" => Ok(Self::Local),
            "production" => Ok(Self::Production),
            other => bail!(
                "APP_ENVIRONMENT is `{other}`: use `local` or `production` \
                 (it picks config/local.toml or config/production.toml)"
            ),
        }
    }

    /// The name of the environment's configuration file, without extension.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Production => "production",
        }
    }
}

impl Settings {
    /// Loads the settings the way `million serve` does: files, environment
    /// variables, database variables, then checks that they make sense.
    pub fn load() -> anyhow::Result<Self> {
        let environment = Environment::from_env()?;
        let dir = std::env::var_os("APP_CONFIG_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("config"));
        let mut settings = Self::load_from(&dir, environment, std::env::vars())?;
        settings.database.apply_env(std::env::vars())?;
        if environment == Environment::Local {
            settings.fill_local_secrets()?;
        }
        settings.check()?;
        Ok(settings)
    }

    /// Loads the layered files from `dir` and the `APP__…` variables in `vars`.
    pub fn load_from(
        dir: &Path,
        environment: Environment,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Self> {
        let base = dir.join("base.toml");
        if !base.exists() {
            bail!(
                "configuration file {} not found: run million from the project directory \
                 or point APP_CONFIG_DIR at the folder holding base.toml",
                base.display()
            );
        }
        let app_vars: config::Map<String, String> = vars
            .into_iter()
            .filter(|(key, _)| key.starts_with("APP__"))
            .collect();
        let layered = config::Config::builder()
            .add_source(config::File::from(base))
            .add_source(
                config::File::from(dir.join(format!("{}.toml", environment.as_str())))
                    .required(false),
            )
            .add_source(
                config::Environment::with_prefix("APP")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("application.trusted_proxies")
                    .with_list_parse_key("application.cors_origins")
                    .with_list_parse_key("architecture.app_servers")
                    .with_list_parse_key("replicas.hosts")
                    .source(Some(app_vars)),
            )
            .set_override("environment", environment.as_str())
            .context("setting the environment")?
            .build()
            .context("reading the configuration files")?;
        serde_path_to_error::deserialize(layered).map_err(|error| {
            let key = error.path().to_string();
            anyhow::anyhow!(
                "invalid configuration at `{key}`: {} \
                 (set it in config/*.toml or as APP__{})",
                error.inner(),
                key.replace('.', "__").to_uppercase()
            )
        })
    }

    /// Gives a local run the signing keys it has not been given, made once and
    /// kept in `application.data_dir` (see [`local_secrets`]).
    pub fn fill_local_secrets(&mut self) -> anyhow::Result<()> {
        if !self.auth.jwt_secret.expose_secret().is_empty()
            && !self.session.secret.expose_secret().is_empty()
        {
            return Ok(());
        }
        let secrets = local_secrets::LocalSecrets::load_or_create(&self.application.data_dir)
            .context(
                "preparing the development secrets (set APP__AUTH__JWT_SECRET and \
                      APP__SESSION__SECRET to use your own)",
            )?;
        secrets.fill(&mut self.auth.jwt_secret, &mut self.session.secret);
        Ok(())
    }

    /// Refuses combinations that cannot work, naming the key to change.
    pub fn check(&self) -> anyhow::Result<()> {
        self.auth.check(self.environment)?;
        self.session.check(self.environment)?;
        self.application.check()?;
        self.cache.check()?;
        self.replicas.check()?;
        Ok(())
    }

    /// The effective configuration as TOML, with every secret masked.
    pub fn to_redacted_toml(&self) -> anyhow::Result<String> {
        redacted::to_toml(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project_config() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config")
    }

    #[test]
    fn local_settings_load_from_the_project_files() {
        let data = tempfile::tempdir().unwrap();
        let mut settings = Settings::load_from(&project_config(), Environment::Local, []).unwrap();
        assert_eq!(settings.application.port, 8000);
        assert_eq!(settings.environment, Environment::Local);
        settings.application.data_dir = data.path().to_path_buf();
        settings.fill_local_secrets().unwrap();
        settings.check().unwrap();
    }

    #[test]
    fn no_secret_ships_with_the_project() {
        for environment in [Environment::Local, Environment::Production] {
            let settings = Settings::load_from(&project_config(), environment, []).unwrap();
            assert!(settings.auth.jwt_secret.expose_secret().is_empty());
            assert!(settings.session.secret.expose_secret().is_empty());
        }
    }

    #[test]
    fn environment_variables_override_files() {
        let vars = [("APP__APPLICATION__PORT".to_string(), "9001".to_string())];
        let settings = Settings::load_from(&project_config(), Environment::Local, vars).unwrap();
        assert_eq!(settings.application.port, 9001);
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let vars = [("APP__APPLICATION__PROT".to_string(), "9001".to_string())];
        let error = Settings::load_from(&project_config(), Environment::Local, vars)
            .unwrap_err()
            .to_string();
        assert!(error.contains("prot"), "{error}");
    }

    #[test]
    fn invalid_values_are_refused_with_their_key() {
        let vars = [("APP__APPLICATION__PORT".to_string(), "eighty".to_string())];
        let error = Settings::load_from(&project_config(), Environment::Local, vars)
            .unwrap_err()
            .to_string();
        assert!(error.contains("application.port"), "{error}");
    }

    #[test]
    fn production_refuses_to_start_without_secrets() {
        let settings = Settings::load_from(&project_config(), Environment::Production, []).unwrap();
        let error = settings.check().unwrap_err().to_string();
        assert!(error.contains("jwt_secret"), "{error}");
    }

    #[test]
    fn unknown_environment_names_are_refused() {
        assert!(Environment::parse("staging").is_err());
        assert_eq!(
            Environment::parse("Production").unwrap(),
            Environment::Production
        );
    }

    #[test]
    fn redacted_output_hides_secrets() {
        let data = tempfile::tempdir().unwrap();
        let mut settings = Settings::load_from(&project_config(), Environment::Local, []).unwrap();
        settings.application.data_dir = data.path().to_path_buf();
        settings.fill_local_secrets().unwrap();
        let printed = settings.to_redacted_toml().unwrap();
        assert!(printed.contains("jwt_secret = \"********\""), "{printed}");
        assert!(!printed.contains(settings_secret(&settings)), "{printed}");
    }

    fn settings_secret(settings: &Settings) -> &str {
        settings.auth.jwt_secret.expose_secret()
    }
}
