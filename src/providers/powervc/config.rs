//! PowerVC (OpenStack) settings: flag > `OS_*` environment > snapctl profile > `clouds.yaml`
//! (`OS_CLOUD`; searched as openstacksdk does: `OS_CLIENT_CONFIG_FILE`, `./clouds.yaml`,
//! `~/.config/openstack/clouds.yaml`, `/etc/openstack/clouds.yaml`, first found wins). Read-only.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::config::{Settings, base_url, inspect_config_file, layered, parse_duration};
use crate::error::{Error, Result};

/// PowerVC's default project.
pub const DEFAULT_PROJECT: &str = "ibm-default";
/// PowerVC's only domain.
pub const DEFAULT_DOMAIN: &str = "Default";
/// IBM: "Request a new token at least 1 hour before it expires".
pub const DEFAULT_TOKEN_MARGIN: Duration = Duration::from_secs(3600);

#[derive(Debug, Default, Deserialize)]
struct CloudsFile {
    #[serde(default)]
    clouds: BTreeMap<String, Cloud>,
}

#[derive(Debug, Default, Deserialize)]
struct Cloud {
    #[serde(default)]
    auth: CloudAuth,
    region_name: Option<String>,
    interface: Option<String>,
    cacert: Option<PathBuf>,
    verify: Option<bool>,
    insecure: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
struct CloudAuth {
    auth_url: Option<String>,
    username: Option<String>,
    password: Option<SecretString>,
    project_name: Option<String>,
    project_id: Option<String>,
    user_domain_name: Option<String>,
    project_domain_name: Option<String>,
}

/// How the token is scoped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectScope {
    /// By name within a domain.
    Name {
        /// Project name.
        name: String,
        /// Its domain.
        domain: String,
    },
    /// By id.
    Id(String),
}

/// Password credentials.
#[derive(Clone)]
pub struct PasswordAuth {
    /// User name.
    pub username: String,
    /// Password.
    pub password: SecretString,
    /// User domain.
    pub user_domain: String,
    /// Project scope.
    pub project: ProjectScope,
}

impl fmt::Debug for PasswordAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordAuth")
            .field("username", &self.username)
            .field("password", &"***")
            .field("user_domain", &self.user_domain)
            .field("project", &self.project)
            .finish()
    }
}

impl PasswordAuth {
    /// The password, for the auth body only.
    pub fn password(&self) -> &str {
        self.password.expose_secret()
    }
}

/// Everything the PowerVC provider needs.
#[derive(Debug, Clone)]
pub struct PowervcConfig {
    /// Identity URL ending in `/v3`.
    pub auth_url: Url,
    /// Credentials.
    pub auth: PasswordAuth,
    /// Catalog region filter.
    pub region: Option<String>,
    /// Catalog interface (`public` by default).
    pub interface: String,
    /// Volume service URL overriding the catalog.
    pub volume_endpoint: Option<Url>,
    /// CA file.
    pub cacert: Option<PathBuf>,
    /// Skip verification.
    pub insecure: bool,
    /// Re-authenticate this long before expiry.
    pub token_margin: Duration,
}

fn truthy(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
}

fn clouds_paths(settings: &Settings) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(p) = settings.env.var("OS_CLIENT_CONFIG_FILE") {
        paths.push(PathBuf::from(p));
    }
    if let Some(cwd) = &settings.env.cwd {
        paths.push(cwd.join("clouds.yaml"));
    }
    if let Some(x) = settings.env.var("XDG_CONFIG_HOME") {
        paths.push(PathBuf::from(x).join("openstack").join("clouds.yaml"));
    } else if let Some(home) = &settings.env.home {
        paths.push(home.join(".config").join("openstack").join("clouds.yaml"));
    }
    paths.push(PathBuf::from("/etc/openstack/clouds.yaml"));
    paths
}

fn load_cloud(settings: &Settings, warnings: &mut Vec<String>) -> Result<Cloud> {
    let Some(name) = settings.env.var("OS_CLOUD") else {
        return Ok(Cloud::default());
    };
    for path in clouds_paths(settings) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let mut file: CloudsFile = serde_norway::from_str(&text).map_err(|e| Error::Config {
            message: format!("cannot parse {}: {e}", path.display()),
            hint: Some(
                "clouds.yaml holds `clouds: {NAME: {auth: {auth_url: …, username: …}}}`".into(),
            ),
        })?;
        let Some(cloud) = file.clouds.remove(name) else {
            let known: Vec<&String> = file.clouds.keys().collect();
            return Err(Error::Config {
                message: format!("OS_CLOUD={name} is not in {}", path.display()),
                hint: Some(format!("clouds defined there: {known:?}")),
            });
        };
        inspect_config_file(&path, cloud.auth.password.is_some(), warnings);
        return Ok(cloud);
    }
    Err(Error::Config {
        message: format!("OS_CLOUD={name} but no clouds.yaml was found"),
        hint: Some(
            "looked in OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack/clouds.yaml and /etc/openstack/clouds.yaml"
                .into(),
        ),
    })
}

/// `https://host:5000`, `https://host:5000/`, `https://host:5000/v3/` → `https://host:5000/v3`.
pub fn identity_url(raw: &str) -> Result<Url> {
    let trimmed = raw.trim_end_matches('/');
    let with_v3 = if trimmed.ends_with("/v3") {
        trimmed.to_string()
    } else {
        format!("{trimmed}/v3")
    };
    base_url(
        &with_v3,
        "identity URL",
        "https://powervc.example.com:5000/v3",
    )
}

/// Resolve settings.
pub fn resolve(settings: &Settings, warnings: &mut Vec<String>) -> Result<PowervcConfig> {
    let cloud = load_cloud(settings, warnings)?;
    let env = &settings.env;
    let p = &settings.profile;
    let pick = |env_names: &[&str], profile: Option<String>, cloud: Option<String>| {
        layered(None, env, env_names, profile.as_deref(), cloud.as_deref())
    };
    let auth_url = layered(
        settings.endpoint_flag.as_deref(),
        env,
        &["OS_AUTH_URL"],
        p.endpoint.as_deref(),
        cloud.auth.auth_url.as_deref(),
    );
    let username = pick(
        &["OS_USERNAME"],
        p.username.clone(),
        cloud.auth.username.clone(),
    );
    let password = pick(
        &["OS_PASSWORD"],
        p.password.as_ref().map(|s| s.expose_secret().to_string()),
        cloud
            .auth
            .password
            .as_ref()
            .map(|s| s.expose_secret().to_string()),
    );
    let (auth_url, username, password) = match (auth_url, username, password) {
        (Some(a), Some(u), Some(pw)) => (a, u, pw),
        (a, u, pw) => {
            let missing: Vec<&str> = [
                ("auth_url", a.is_none()),
                ("username", u.is_none()),
                ("password", pw.is_none()),
            ]
            .into_iter()
            .filter(|(_, m)| *m)
            .map(|(n, _)| n)
            .collect();
            let envs: Vec<String> = missing
                .iter()
                .map(|n| format!("OS_{}", n.to_ascii_uppercase()))
                .collect();
            return Err(Error::Config {
                message: format!("missing PowerVC credentials: {}", missing.join(", ")),
                hint: Some(format!(
                    "set {} (e.g. source PowerVC's powervcrc), or {} in a snapctl profile, or OS_CLOUD with a clouds.yaml entry; --endpoint is the identity URL",
                    envs.join(", "),
                    missing.join(", ")
                )),
            });
        }
    };
    let project_id = pick(
        &["OS_PROJECT_ID", "OS_TENANT_ID"],
        p.project_id.clone(),
        cloud.auth.project_id.clone(),
    );
    let project = match project_id {
        Some(id) => ProjectScope::Id(id),
        None => ProjectScope::Name {
            name: pick(
                &["OS_PROJECT_NAME", "OS_TENANT_NAME"],
                p.project_name.clone(),
                cloud.auth.project_name.clone(),
            )
            .unwrap_or_else(|| DEFAULT_PROJECT.into()),
            domain: pick(
                &["OS_PROJECT_DOMAIN_NAME", "OS_DEFAULT_DOMAIN"],
                p.project_domain_name.clone(),
                cloud.auth.project_domain_name.clone(),
            )
            .unwrap_or_else(|| DEFAULT_DOMAIN.into()),
        },
    };
    let user_domain = pick(
        &["OS_USER_DOMAIN_NAME", "OS_DEFAULT_DOMAIN"],
        p.user_domain_name.clone(),
        cloud.auth.user_domain_name.clone(),
    )
    .unwrap_or_else(|| DEFAULT_DOMAIN.into());
    let region = layered(
        settings.region_flag.as_deref(),
        env,
        &["OS_REGION_NAME"],
        p.region.as_deref(),
        cloud.region_name.as_deref(),
    );
    let interface =
        pick(&["OS_INTERFACE"], None, cloud.interface.clone()).unwrap_or_else(|| "public".into());
    if !matches!(interface.as_str(), "public" | "internal" | "admin") {
        return Err(Error::InvalidInput {
            what: "interface",
            value: interface,
            reason: "expected public, internal or admin".into(),
        });
    }
    let volume_endpoint = settings
        .volume_endpoint_flag
        .clone()
        .or_else(|| p.volume_endpoint.clone())
        .map(|v| {
            base_url(
                &v,
                "volume endpoint",
                "https://powervc.example.com:9000/v3/PROJECT_ID",
            )
        })
        .transpose()?;
    let cacert = settings
        .cacert_flag
        .clone()
        .or_else(|| env.var("OS_CACERT").map(PathBuf::from))
        .or_else(|| p.cacert.clone())
        .or(cloud.cacert.clone());
    let insecure = settings.insecure_flag
        || env.var("OS_INSECURE").is_some_and(truthy)
        || p.insecure.unwrap_or(false)
        || cloud.insecure.unwrap_or(false)
        || cloud.verify == Some(false);
    let token_margin = match &p.token_margin {
        Some(t) => parse_duration(t).map_err(|reason| Error::Config {
            message: format!("invalid token_margin {t:?}: {reason}"),
            hint: None,
        })?,
        None => DEFAULT_TOKEN_MARGIN,
    };
    Ok(PowervcConfig {
        auth_url: identity_url(&auth_url)?,
        auth: PasswordAuth {
            username,
            password: SecretString::from(password),
            user_domain,
            project,
        },
        region,
        interface,
        volume_endpoint,
        cacert,
        insecure,
        token_margin,
    })
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn the_clouds_yaml_auth_debug_never_shows_the_password() {
        let file: CloudsFile = serde_norway::from_str(
            "clouds:\n  pvc:\n    auth:\n      username: root\n      password: clouds-yaml-secret\n",
        )
        .expect("parses");
        let dbg = format!("{file:?}");
        assert!(
            dbg.contains("root") && !dbg.contains("clouds-yaml-secret"),
            "{dbg}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_urls_end_in_v3() {
        for raw in [
            "https://pvc:5000",
            "https://pvc:5000/",
            "https://pvc:5000/v3/",
            "https://pvc:5000/v3",
        ] {
            assert_eq!(
                identity_url(raw).expect("url").as_str(),
                "https://pvc:5000/v3"
            );
        }
    }

    #[test]
    fn password_debug_is_redacted() {
        let a = PasswordAuth {
            username: "root".into(),
            password: SecretString::from("hunter2".to_string()),
            user_domain: "Default".into(),
            project: ProjectScope::Id("p".into()),
        };
        assert!(!format!("{a:?}").contains("hunter2"));
    }
}
