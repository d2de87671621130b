//! OUTSCALE endpoint, region and credentials: flag > `OSC_*` environment > snapctl profile >
//! `~/.osc/config.json` (the official SDKs' file, read-only; `OSC_CONFIG_FILE` and `OSC_PROFILE` as
//! they define them).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::config::{Settings, base_url, inspect_config_file, layered};
use crate::error::{Error, Result};

/// Default region of every official SDK.
pub const DEFAULT_REGION: &str = "eu-west-2";

/// One profile of `~/.osc/config.json` (the keys snapctl uses; others ignored).
#[derive(Debug, Default, Deserialize)]
struct OscProfile {
    access_key: Option<String>,
    secret_key: Option<SecretString>,
    region: Option<String>,
    #[serde(default)]
    endpoints: BTreeMap<String, String>,
    endpoint: Option<String>,
    /// `http` or `https` for an endpoint written without a scheme (osc-sdk-python's key).
    protocol: Option<String>,
}

/// Access key and secret key.
#[derive(Clone)]
pub struct OscCredentials {
    /// Access key (appears in the Authorization header's Credential, which is not secret).
    pub access_key: String,
    /// Secret key, only ever used to derive the signing key.
    pub secret_key: SecretString,
}

impl fmt::Debug for OscCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OscCredentials { access_key: ***, secret_key: *** }")
    }
}

impl OscCredentials {
    /// The secret, for signing.
    pub fn secret(&self) -> &str {
        self.secret_key.expose_secret()
    }
}

/// Resolved connection settings.
#[derive(Debug, Clone)]
pub struct OscConfig {
    /// `https://api.{region}.outscale.com/api/v1` or the override.
    pub base_url: Url,
    /// Region, also the signing scope's.
    pub region: String,
    /// Credentials.
    pub credentials: OscCredentials,
}

fn config_path(settings: &Settings) -> Option<PathBuf> {
    if let Some(p) = settings.env.var("OSC_CONFIG_FILE") {
        return Some(PathBuf::from(p));
    }
    settings
        .env
        .home
        .as_ref()
        .map(|h| h.join(".osc").join("config.json"))
}

fn load_profile(settings: &Settings, warnings: &mut Vec<String>) -> Result<OscProfile> {
    let Some(path) = config_path(settings) else {
        return Ok(OscProfile::default());
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(OscProfile::default()),
        Err(e) => {
            return Err(Error::Config {
                message: format!("cannot read {}: {e}", path.display()),
                hint: None,
            });
        }
    };
    let mut all: BTreeMap<String, OscProfile> =
        serde_json::from_str(&text).map_err(|e| Error::Config {
            message: format!("cannot parse {}: {e}", path.display()),
            hint: Some(
                "it is a JSON object of profiles: {\"default\": {\"access_key\": …}}".into(),
            ),
        })?;
    let name = settings.env.var("OSC_PROFILE").unwrap_or("default");
    let profile = all.remove(name).unwrap_or_default();
    inspect_config_file(&path, profile.secret_key.is_some(), warnings);
    Ok(profile)
}

/// A base URL from an endpoint: `https://host` gains `/api/v1` (oapi-cli's host-only form), and a
/// host written without a scheme (`127.0.0.1:3000`, as oapi-cli writes `endpoints.api`) takes
/// `protocol` (`OSC_PROTOCOL`, the profile's `protocol`), `https` by default.
pub fn endpoint_url(endpoint: &str, protocol: Option<&str>) -> Result<Url> {
    let with_scheme;
    let endpoint = if endpoint.contains("://") {
        endpoint
    } else {
        let scheme = match protocol.map(str::to_ascii_lowercase).as_deref() {
            None | Some("https") => "https",
            Some("http") => "http",
            Some(other) => {
                return Err(Error::Config {
                    message: format!("invalid OSC_PROTOCOL {other:?}"),
                    hint: Some("use http or https".into()),
                });
            }
        };
        with_scheme = format!("{scheme}://{endpoint}");
        &with_scheme
    };
    let mut url = base_url(
        endpoint,
        "endpoint URL",
        "https://api.eu-west-2.outscale.com/api/v1",
    )?;
    if url.path() == "/" || url.path().is_empty() {
        url.set_path("/api/v1");
    }
    Ok(url)
}

/// Resolve endpoint, region and credentials.
pub fn resolve(settings: &Settings, warnings: &mut Vec<String>) -> Result<OscConfig> {
    // A profile holding secrets is the only source of its secrets and of where they go.
    let file = if settings.bound() {
        OscProfile::default()
    } else {
        load_profile(settings, warnings)?
    };
    let ambient = settings.ambient();
    let env = &ambient;
    let profile = &settings.profile;
    let region = layered(
        settings.region_flag.as_deref(),
        env,
        &["OSC_REGION"],
        profile.region.as_deref(),
        file.region.as_deref(),
    )
    .unwrap_or_else(|| DEFAULT_REGION.to_string());
    if !region
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(Error::InvalidInput {
            what: "region",
            value: region,
            reason: "expected a region such as eu-west-2".into(),
        });
    }
    let endpoint = layered(
        settings.endpoint_flag.as_deref(),
        env,
        &["OSC_ENDPOINT_API"],
        profile.endpoint.as_deref(),
        file.endpoints
            .get("api")
            .map(String::as_str)
            .or(file.endpoint.as_deref()),
    )
    .unwrap_or_else(|| format!("https://api.{region}.outscale.com/api/v1"));
    let protocol = layered(None, env, &["OSC_PROTOCOL"], None, file.protocol.as_deref());
    let base_url = endpoint_url(&endpoint, protocol.as_deref())?;
    let access_key = layered(
        None,
        env,
        &["OSC_ACCESS_KEY"],
        profile.access_key.as_deref(),
        file.access_key.as_deref(),
    );
    let secret_key = layered(
        None,
        env,
        &["OSC_SECRET_KEY"],
        profile.secret_key.as_ref().map(|s| s.expose_secret()),
        file.secret_key.as_ref().map(|s| s.expose_secret()),
    );
    match (access_key, secret_key) {
        (Some(access_key), Some(secret_key)) => Ok(OscConfig {
            base_url,
            region,
            credentials: OscCredentials {
                access_key,
                secret_key: SecretString::from(secret_key),
            },
        }),
        (ak, sk) => {
            let missing: Vec<&str> = [("access_key", ak.is_none()), ("secret_key", sk.is_none())]
                .into_iter()
                .filter(|(_, m)| *m)
                .map(|(n, _)| n)
                .collect();
            let envs: Vec<String> = missing
                .iter()
                .map(|n| format!("OSC_{}", n.to_ascii_uppercase()))
                .collect();
            Err(Error::Config {
                message: format!("missing OUTSCALE credentials: {}", missing.join(", ")),
                hint: Some(format!(
                    "set {} in the environment, or {} in a snapctl profile, or in the \"{}\" profile of {}",
                    envs.join(", "),
                    missing.join(", "),
                    env.var("OSC_PROFILE").unwrap_or("default"),
                    config_path(settings)
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "~/.osc/config.json".into())
                )),
            })
        }
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn the_sdk_profile_debug_never_shows_the_secret_key() {
        let p: OscProfile =
            serde_json::from_str(r#"{"access_key": "AK1", "secret_key": "osc-secret-value"}"#)
                .expect("parses");
        let dbg = format!("{p:?}");
        assert!(!dbg.contains("osc-secret-value"), "{dbg}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_only_endpoints_gain_the_api_path() {
        assert_eq!(
            endpoint_url("https://api.eu-west-2.outscale.com", None)
                .expect("url")
                .as_str(),
            "https://api.eu-west-2.outscale.com/api/v1"
        );
        assert_eq!(
            endpoint_url("http://127.0.0.1:9/api/v1/", None)
                .expect("url")
                .as_str(),
            "http://127.0.0.1:9/api/v1"
        );
    }

    #[test]
    fn a_host_without_scheme_takes_the_protocol_or_https() {
        let url = |e, p| endpoint_url(e, p).map(|u| u.to_string());
        assert_eq!(
            url("127.0.0.1:3000", Some("http")).expect("url"),
            "http://127.0.0.1:3000/api/v1"
        );
        assert_eq!(
            url("api.eu-west-2.outscale.com", None).expect("url"),
            "https://api.eu-west-2.outscale.com/api/v1"
        );
        assert_eq!(
            url("api.eu-west-2.outscale.com/api/v1", Some("HTTPS")).expect("url"),
            "https://api.eu-west-2.outscale.com/api/v1"
        );
        assert!(url("127.0.0.1:3000", Some("ftp")).is_err());
    }
}
