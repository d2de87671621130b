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
    auth_type: Option<String>,
    region_name: Option<String>,
    interface: Option<String>,
    cacert: Option<PathBuf>,
    verify: Option<bool>,
    insecure: Option<bool>,
}

/// The `auth:` keys of keystoneauth's `password`/`v3password` plugin that snapctl uses. Any other
/// key is an error: a typo (`user_domian_name`) silently ignored would authenticate elsewhere.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CloudAuth {
    auth_url: Option<String>,
    username: Option<String>,
    user_id: Option<String>,
    password: Option<SecretString>,
    #[serde(alias = "tenant_name")]
    project_name: Option<String>,
    #[serde(alias = "tenant_id")]
    project_id: Option<String>,
    user_domain_name: Option<String>,
    user_domain_id: Option<String>,
    project_domain_name: Option<String>,
    project_domain_id: Option<String>,
    default_domain_name: Option<String>,
    default_domain_id: Option<String>,
}

/// The `auth:` keys [`CloudAuth`] takes, for error messages.
const AUTH_KEYS: &str = "auth_url, username, user_id, password, project_name (tenant_name), project_id (tenant_id), user_domain_name, user_domain_id, project_domain_name, project_domain_id, default_domain_name, default_domain_id";

impl CloudAuth {
    /// `secure.yaml`'s values over `clouds.yaml`'s, key by key (openstacksdk's merge).
    fn merge(self, over: CloudAuth) -> CloudAuth {
        CloudAuth {
            auth_url: over.auth_url.or(self.auth_url),
            username: over.username.or(self.username),
            user_id: over.user_id.or(self.user_id),
            password: over.password.or(self.password),
            project_name: over.project_name.or(self.project_name),
            project_id: over.project_id.or(self.project_id),
            user_domain_name: over.user_domain_name.or(self.user_domain_name),
            user_domain_id: over.user_domain_id.or(self.user_domain_id),
            project_domain_name: over.project_domain_name.or(self.project_domain_name),
            project_domain_id: over.project_domain_id.or(self.project_domain_id),
            default_domain_name: over.default_domain_name.or(self.default_domain_name),
            default_domain_id: over.default_domain_id.or(self.default_domain_id),
        }
    }
}

impl Cloud {
    fn merge(self, over: Cloud) -> Cloud {
        Cloud {
            auth: self.auth.merge(over.auth),
            auth_type: over.auth_type.or(self.auth_type),
            region_name: over.region_name.or(self.region_name),
            interface: over.interface.or(self.interface),
            cacert: over.cacert.or(self.cacert),
            verify: over.verify.or(self.verify),
            insecure: over.insecure.or(self.insecure),
        }
    }
}

/// A Keystone domain, by id or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Domain {
    /// `{"id": …}`.
    Id(String),
    /// `{"name": …}`.
    Name(String),
}

/// Who authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum User {
    /// By id (unique across domains: no domain is sent).
    Id(String),
    /// By name within a domain.
    Name {
        /// User name.
        name: String,
        /// Its domain.
        domain: Domain,
    },
}

impl User {
    /// How to name the user in messages.
    pub fn label(&self) -> &str {
        match self {
            User::Id(id) => id,
            User::Name { name, .. } => name,
        }
    }
}

/// How the token is scoped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectScope {
    /// By name within a domain.
    Name {
        /// Project name.
        name: String,
        /// Its domain.
        domain: Domain,
    },
    /// By id.
    Id(String),
}

/// Password credentials.
#[derive(Clone)]
pub struct PasswordAuth {
    /// The user.
    pub user: User,
    /// Password.
    pub password: SecretString,
    /// Project scope.
    pub project: ProjectScope,
}

impl fmt::Debug for PasswordAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordAuth")
            .field("user", &self.user)
            .field("password", &"***")
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

/// openstacksdk's search: `$OS_CLIENT_CONFIG_FILE` (or `$OS_CLIENT_SECURE_FILE`) first, then
/// `stem.{yaml,yml,json}` in the working directory, the user's config directory and
/// `/etc/openstack`.
fn config_paths(settings: &Settings, env_var: &str, stem: &str) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(p) = settings.env.var(env_var) {
        paths.push(PathBuf::from(p));
    }
    let mut dirs = Vec::new();
    if let Some(cwd) = &settings.env.cwd {
        dirs.push(cwd.clone());
    }
    if let Some(x) = settings.env.var("XDG_CONFIG_HOME") {
        dirs.push(PathBuf::from(x).join("openstack"));
    } else if let Some(home) = &settings.env.home {
        dirs.push(home.join(".config").join("openstack"));
    }
    dirs.push(PathBuf::from("/etc/openstack"));
    for dir in dirs {
        for ext in ["yaml", "yml", "json"] {
            paths.push(dir.join(format!("{stem}.{ext}")));
        }
    }
    paths
}

/// The named cloud of the first file found among `paths` (`Ok(None)`: no file, or a secure file
/// without that cloud).
fn read_cloud(
    paths: &[PathBuf],
    name: &str,
    required: bool,
    warnings: &mut Vec<String>,
) -> Result<Option<(PathBuf, Cloud)>> {
    for path in paths {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        // YAML is a superset of JSON: one parser reads clouds.json too.
        let mut file: CloudsFile = serde_norway::from_str(&text).map_err(|e| {
            let unknown = e.to_string().contains("unknown field");
            Error::Config {
                message: format!("cannot read {}: {e}", path.display()),
                hint: Some(if unknown {
                    format!("the auth: keys snapctl knows are {AUTH_KEYS}")
                } else {
                    "clouds.yaml holds `clouds: {NAME: {auth: {auth_url: …, username: …}}}`".into()
                }),
            }
        })?;
        let Some(cloud) = file.clouds.remove(name) else {
            if !required {
                return Ok(None);
            }
            let known: Vec<&String> = file.clouds.keys().collect();
            return Err(Error::Config {
                message: format!("OS_CLOUD={name} is not in {}", path.display()),
                hint: Some(format!("clouds defined there: {known:?}")),
            });
        };
        inspect_config_file(path, cloud.auth.password.is_some(), warnings);
        return Ok(Some((path.clone(), cloud)));
    }
    Ok(None)
}

fn load_cloud(settings: &Settings, warnings: &mut Vec<String>) -> Result<Cloud> {
    let Some(name) = settings.env.var("OS_CLOUD") else {
        return Ok(Cloud::default());
    };
    let paths = config_paths(settings, "OS_CLIENT_CONFIG_FILE", "clouds");
    let Some((_, cloud)) = read_cloud(&paths, name, true, warnings)? else {
        return Err(Error::Config {
            message: format!("OS_CLOUD={name} but no clouds.yaml was found"),
            hint: Some(
                "looked for clouds.yaml, clouds.yml and clouds.json in OS_CLIENT_CONFIG_FILE, the working directory, ~/.config/openstack and /etc/openstack"
                    .into(),
            ),
        });
    };
    if let Some(t) = cloud.auth_type.as_deref()
        && !matches!(t, "password" | "v3password")
    {
        return Err(Error::Config {
            message: format!("auth_type {t:?} of cloud {name} is not supported"),
            hint: Some("snapctl authenticates with a password (auth_type: password)".into()),
        });
    }
    // secure.yaml holds the secrets beside clouds.yaml; its values win.
    let secure_paths = config_paths(settings, "OS_CLIENT_SECURE_FILE", "secure");
    Ok(match read_cloud(&secure_paths, name, false, warnings)? {
        Some((_, secure)) => cloud.merge(secure),
        None => cloud,
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

/// The error for credentials that are missing (`auth_url`, `username`, `password`).
fn missing_credentials(a: bool, u: bool, pw: bool) -> Error {
    let missing: Vec<&str> = [("auth_url", a), ("username", u), ("password", pw)]
        .into_iter()
        .filter(|(_, m)| *m)
        .map(|(n, _)| n)
        .collect();
    let envs: Vec<String> = missing
        .iter()
        .map(|n| format!("OS_{}", n.to_ascii_uppercase()))
        .collect();
    Error::Config {
        message: format!("missing PowerVC credentials: {}", missing.join(", ")),
        hint: Some(format!(
            "set {} (e.g. source PowerVC's powervcrc), or {} in a snapctl profile, or OS_CLOUD with a clouds.yaml entry; --endpoint is the identity URL",
            envs.join(", "),
            missing.join(", ")
        )),
    }
}

/// The catalog interface to use: `public`, `internal` or `admin`.
fn checked_interface(interface: String) -> Result<String> {
    if !matches!(interface.as_str(), "public" | "internal" | "admin") {
        return Err(Error::InvalidInput {
            what: "interface",
            value: interface,
            reason: "expected public, internal or admin".into(),
        });
    }
    Ok(interface)
}

/// A value from the environment (any of the names), else the profile, else clouds.yaml.
type Pick<'a> = dyn Fn(&[&str], Option<String>, Option<String>) -> Option<String> + 'a;

/// Who logs in and into which project: ids win over names, as keystoneauth sends them; domains
/// fall back to the default domain (`OS_DEFAULT_DOMAIN_ID`/`_NAME`), then to PowerVC's only one.
fn user_and_project(
    pick: &Pick<'_>,
    p: &crate::config::Profile,
    cloud: &Cloud,
    username: Option<String>,
    user_id: Option<String>,
) -> (User, ProjectScope) {
    let default_domain = match (
        pick(
            &["OS_DEFAULT_DOMAIN_ID"],
            None,
            cloud.auth.default_domain_id.clone(),
        ),
        pick(
            &["OS_DEFAULT_DOMAIN_NAME", "OS_DEFAULT_DOMAIN"],
            None,
            cloud.auth.default_domain_name.clone(),
        ),
    ) {
        (Some(id), _) => Domain::Id(id),
        (None, Some(name)) => Domain::Name(name),
        (None, None) => Domain::Name(DEFAULT_DOMAIN.into()),
    };
    let domain = |ids: &[&str],
                  (profile_id, cloud_id): (Option<String>, Option<String>),
                  names: &[&str],
                  (profile_name, cloud_name): (Option<String>, Option<String>)| {
        match (
            pick(ids, profile_id, cloud_id),
            pick(names, profile_name, cloud_name),
        ) {
            (Some(id), _) => Domain::Id(id),
            (None, Some(name)) => Domain::Name(name),
            (None, None) => default_domain.clone(),
        }
    };
    let user = match (username, user_id) {
        (Some(name), _) => User::Name {
            name,
            domain: domain(
                &["OS_USER_DOMAIN_ID"],
                (p.user_domain_id.clone(), cloud.auth.user_domain_id.clone()),
                &["OS_USER_DOMAIN_NAME"],
                (
                    p.user_domain_name.clone(),
                    cloud.auth.user_domain_name.clone(),
                ),
            ),
        },
        (None, Some(id)) => User::Id(id),
        (None, None) => unreachable!("checked above"),
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
            domain: domain(
                &["OS_PROJECT_DOMAIN_ID"],
                (
                    p.project_domain_id.clone(),
                    cloud.auth.project_domain_id.clone(),
                ),
                &["OS_PROJECT_DOMAIN_NAME"],
                (
                    p.project_domain_name.clone(),
                    cloud.auth.project_domain_name.clone(),
                ),
            ),
        },
    };
    (user, project)
}

/// Resolve settings.
pub fn resolve(settings: &Settings, warnings: &mut Vec<String>) -> Result<PowervcConfig> {
    // A profile holding secrets is the only source of its secrets and of where they go.
    let cloud = if settings.bound() {
        Cloud::default()
    } else {
        load_cloud(settings, warnings)?
    };
    let ambient = settings.ambient();
    let env = &ambient;
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
    let user_id = pick(
        &["OS_USER_ID"],
        p.user_id.clone(),
        cloud.auth.user_id.clone(),
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
    let who = username.clone().or(user_id.clone());
    let (auth_url, _, password) = match (auth_url, who, password) {
        (Some(a), Some(u), Some(pw)) => (a, u, pw),
        (a, u, pw) => return Err(missing_credentials(a.is_none(), u.is_none(), pw.is_none())),
    };
    let (user, project) = user_and_project(&pick, p, &cloud, username, user_id);
    let region = layered(
        settings.region_flag.as_deref(),
        env,
        &["OS_REGION_NAME"],
        p.region.as_deref(),
        cloud.region_name.as_deref(),
    );
    let interface = checked_interface(
        pick(&["OS_INTERFACE"], None, cloud.interface.clone()).unwrap_or_else(|| "public".into()),
    )?;
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
            user,
            password: SecretString::from(password),
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
            user: User::Name {
                name: "root".into(),
                domain: Domain::Name("Default".into()),
            },
            password: SecretString::from("hunter2".to_string()),
            project: ProjectScope::Id("p".into()),
        };
        assert!(!format!("{a:?}").contains("hunter2"));
    }
}
