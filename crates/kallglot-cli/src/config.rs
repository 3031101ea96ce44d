//! Named profiles in `$XDG_CONFIG_HOME/kallglot/config.toml` (by default
//! `~/.config/kallglot/config.toml`):
//!
//! ```toml
//! default = "staging"            # optional: the profile used without --profile
//!
//! [profiles.staging]
//! base_url = "https://staging.example.com"
//! api_key_env = "KALLGLOT_STAGING_KEY"
//! ```
//!
//! A profile names the environment variable holding its key, never the key itself: the
//! file is only read, and a key written into it is refused rather than used.

use std::collections::BTreeMap;
use std::path::PathBuf;

use kallglot::ApiKey;
use serde::Deserialize;

use crate::exit::Failure;

/// The config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The profile used when neither --profile nor KALLGLOT_PROFILE names one.
    pub default: Option<String>,
    /// The profiles, by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// One profile.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The API base URL.
    pub base_url: Option<String>,
    /// The environment variable holding the API key.
    pub api_key_env: Option<String>,
}

/// Where the config file is: XDG first, then the home directory.
pub fn path() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let base =
        xdg.or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("kallglot").join("config.toml"))
}

/// Reads the config file; a missing file is an empty config.
pub fn load() -> Result<Config, Failure> {
    let Some(path) = path() else {
        return Ok(Config::default());
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
        Err(e) => return Err(Failure::usage(format!("{}: {e}", path.display()))),
    };
    toml::from_str(&text).map_err(|e| {
        let hint = if text.contains("api_key =") || text.contains("api_key=") {
            " (keys are never read from the file: name their environment variable with api_key_env)"
        } else {
            ""
        };
        let first = e.message().lines().next().unwrap_or_default().to_string();
        Failure::usage(format!("{}: {first}{hint}", path.display()))
    })
}

/// What a command connects with, after flags, profile and environment.
#[derive(Debug, Default)]
pub struct Resolved {
    /// Checked, and redacted in `Debug`.
    pub api_key: Option<ApiKey>,
    pub base_url: Option<String>,
}

/// Resolves the key and base URL: a flag wins, then the profile (from --profile,
/// KALLGLOT_PROFILE or the file's `default`), then KALLGLOT_API_KEY / KALLGLOT_BASE_URL.
pub fn resolve(
    api_key: Option<&str>,
    base_url: Option<&str>,
    profile: Option<&str>,
) -> Result<Resolved, Failure> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let named = profile
        .map(str::to_string)
        .or_else(|| env("KALLGLOT_PROFILE"));
    let config = load()?;
    let chosen = named.clone().or(config.default.clone());
    let profile = match &chosen {
        Some(name) => match config.profiles.get(name) {
            Some(profile) => Some(profile),
            None => {
                let known: Vec<&str> = config.profiles.keys().map(String::as_str).collect();
                let place = path().map_or("the config file".into(), |p| p.display().to_string());
                return Err(Failure::usage(format!(
                    "no profile {name:?} in {place} (profiles: {})",
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                )));
            }
        },
        None => None,
    };
    let profile_key = match profile.and_then(|p| p.api_key_env.as_deref()) {
        Some(var) if api_key.is_none() => Some(env(var).ok_or_else(|| {
            Failure::usage(format!(
                "the profile {:?} reads its key from ${var}, which is not set",
                chosen.as_deref().unwrap_or_default()
            ))
        })?),
        _ => None,
    };
    let profile_url = profile.and_then(|p| p.base_url.clone());
    let (key, from) = match (api_key, profile_key) {
        (Some(key), _) => (Some(key.to_string()), "--api-key".to_string()),
        (None, Some(key)) => (Some(key), "the profile's variable".to_string()),
        (None, None) => (env("KALLGLOT_API_KEY"), "KALLGLOT_API_KEY".to_string()),
    };
    // The reason never repeats the key: a near-miss is still a secret.
    let api_key = key
        .map(|key| ApiKey::new(key).map_err(|e| Failure::usage(format!("{from}: {e}"))))
        .transpose()?;
    Ok(Resolved {
        api_key,
        base_url: base_url
            .map(str::to_string)
            .or(profile_url)
            .or_else(|| env("KALLGLOT_BASE_URL")),
    })
}
