//! OVH endpoint and credential resolution: flag > `OVH_*` environment > snapctl profile > `ovh.conf`.
//!
//! `ovh.conf` is read the way python-ovh and go-ovh read it (`/etc/ovh.conf`, then `~/.ovh.conf`,
//! then `./ovh.conf`, later files overriding earlier ones; `[default] endpoint` picks the section
//! holding the keys). snapctl only reads it, never writes it. Secrets stay in `SecretString`.

use std::fmt;
use std::path::PathBuf;

use ini::Ini;
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};

use crate::config::{Settings, base_url, inspect_config_file, layered};
use crate::error::{Error, Result};

/// The named endpoints both official wrappers know.
pub const NAMED_ENDPOINTS: [(&str, &str); 7] = [
    ("ovh-eu", "https://eu.api.ovh.com/1.0"),
    ("ovh-ca", "https://ca.api.ovh.com/1.0"),
    ("ovh-us", "https://api.us.ovhcloud.com/1.0"),
    ("kimsufi-eu", "https://eu.api.kimsufi.com/1.0"),
    ("kimsufi-ca", "https://ca.api.kimsufi.com/1.0"),
    ("soyoustart-eu", "https://eu.api.soyoustart.com/1.0"),
    ("soyoustart-ca", "https://ca.api.soyoustart.com/1.0"),
];

/// Application key, application secret and consumer key.
#[derive(Clone)]
pub struct OvhCredentials {
    /// Application key (AK), sent as `X-Ovh-Application`.
    pub application_key: SecretString,
    /// Application secret (AS), only ever hashed.
    pub application_secret: SecretString,
    /// Consumer key (CK), sent as `X-Ovh-Consumer`.
    pub consumer_key: SecretString,
}

impl fmt::Debug for OvhCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "OvhCredentials { application_key: ***, application_secret: ***, consumer_key: *** }",
        )
    }
}

impl OvhCredentials {
    /// The three values, for signing and headers.
    pub fn expose(&self) -> (&str, &str, &str) {
        (
            self.application_key.expose_secret(),
            self.application_secret.expose_secret(),
            self.consumer_key.expose_secret(),
        )
    }
}

/// Where to send and how to sign.
#[derive(Debug, Clone)]
pub struct OvhConfig {
    /// Base URL the documented route paths are appended to (`https://eu.api.ovh.com/1.0`).
    pub base_url: Url,
    /// Credentials.
    pub credentials: OvhCredentials,
}

/// `ovh.conf` locations in reading order (later files override earlier ones).
fn conf_paths(settings: &Settings) -> Vec<PathBuf> {
    let mut paths = vec![PathBuf::from("/etc/ovh.conf")];
    if let Some(home) = &settings.env.home {
        paths.push(home.join(".ovh.conf"));
    }
    if let Some(cwd) = &settings.env.cwd {
        paths.push(cwd.join("ovh.conf"));
    }
    paths
}

/// The merged `ovh.conf` files: `(section, key) → value`.
#[derive(Default)]
struct OvhConf {
    values: Vec<(String, String, String)>,
}

impl fmt::Debug for OvhConf {
    /// Keys only: `ovh.conf` holds the application secret and consumer key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.values
                    .iter()
                    .map(|(s, k, _)| format!("[{s}] {k} = ***")),
            )
            .finish()
    }
}

impl OvhConf {
    fn load(settings: &Settings, warnings: &mut Vec<String>) -> Result<Self> {
        let mut conf = OvhConf::default();
        for path in conf_paths(settings) {
            if !path.is_file() {
                continue;
            }
            let ini = Ini::load_from_file(&path).map_err(|e| Error::Config {
                message: match &e {
                    // The parser's own words carry Rust debug text; say it plainly, with where.
                    ini::Error::Parse(p) => format!(
                        "cannot read {}, line {}, column {}: {}",
                        path.display(),
                        p.line,
                        p.col,
                        if p.msg.contains("expecting") {
                            "unexpected end of line or file (an unclosed [section]?)".to_string()
                        } else {
                            p.msg.to_string()
                        }
                    ),
                    other => format!("cannot read {}: {other}", path.display()),
                },
                hint: Some(
                    "ovh.conf is an INI file: [default] endpoint=ovh-eu, then an [ovh-eu] section"
                        .into(),
                ),
            })?;
            let mut has_secret = false;
            for (section, props) in ini.iter() {
                let section = section.unwrap_or("default").to_string();
                for (k, v) in props.iter() {
                    has_secret |=
                        matches!(k, "application_secret" | "consumer_key" | "client_secret");
                    conf.values
                        .push((section.clone(), k.to_string(), v.to_string()));
                }
            }
            inspect_config_file(&path, has_secret, warnings);
        }
        Ok(conf)
    }

    /// Last value wins, as later files override earlier ones.
    fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(s, k, v)| s == section && k == key && !v.is_empty())
            .map(|(_, _, v)| v.as_str())
    }
}

/// Turn an endpoint name or URL into a base URL.
pub fn endpoint_url(endpoint: &str) -> Result<Url> {
    let raw = NAMED_ENDPOINTS
        .iter()
        .find(|(name, _)| *name == endpoint)
        .map(|(_, url)| *url)
        .unwrap_or(endpoint);
    if !raw.contains("://") {
        return Err(Error::Config {
            message: format!("unknown OVH endpoint {endpoint:?}"),
            hint: Some(format!(
                "use a name ({}) or a base URL such as https://eu.api.ovh.com/1.0",
                NAMED_ENDPOINTS.map(|(n, _)| n).join(", ")
            )),
        });
    }
    base_url(raw, "endpoint URL", "https://eu.api.ovh.com/1.0")
}

/// Resolve endpoint and credentials; pushes warnings (world-readable `ovh.conf`) into `warnings`.
pub fn resolve(settings: &Settings, warnings: &mut Vec<String>) -> Result<OvhConfig> {
    // A profile holding secrets is the only source of its secrets and of where they go.
    let conf = if settings.bound() {
        OvhConf { values: vec![] }
    } else {
        OvhConf::load(settings, warnings)?
    };
    let ambient = settings.ambient();
    let env = &ambient;
    let endpoint = layered(
        settings.endpoint_flag.as_deref(),
        env,
        &["OVH_ENDPOINT"],
        settings.profile.endpoint.as_deref(),
        conf.get("default", "endpoint"),
    )
    .unwrap_or_else(|| "ovh-eu".to_string());
    let base_url = endpoint_url(&endpoint)?;

    let profile = &settings.profile;
    let pick = |env_name: &str, from_profile: Option<String>, key: &str| -> Option<String> {
        layered(
            None,
            env,
            &[env_name],
            from_profile.as_deref(),
            conf.get(&endpoint, key),
        )
    };
    let ak = pick(
        "OVH_APPLICATION_KEY",
        profile
            .application_key
            .as_ref()
            .map(|s| s.expose_secret().to_string()),
        "application_key",
    );
    let as_ = pick(
        "OVH_APPLICATION_SECRET",
        profile
            .application_secret
            .as_ref()
            .map(|s| s.expose_secret().to_string()),
        "application_secret",
    );
    let ck = pick(
        "OVH_CONSUMER_KEY",
        profile
            .consumer_key
            .as_ref()
            .map(|s| s.expose_secret().to_string()),
        "consumer_key",
    );
    match (ak, as_, ck) {
        (Some(ak), Some(as_), Some(ck)) => Ok(OvhConfig {
            base_url,
            credentials: OvhCredentials {
                application_key: SecretString::from(ak),
                application_secret: SecretString::from(as_),
                consumer_key: SecretString::from(ck),
            },
        }),
        (ak, as_, ck) => {
            let missing: Vec<&str> = [
                ("application_key", ak.is_none()),
                ("application_secret", as_.is_none()),
                ("consumer_key", ck.is_none()),
            ]
            .into_iter()
            .filter(|(_, m)| *m)
            .map(|(n, _)| n)
            .collect();
            let env_names: Vec<String> = missing
                .iter()
                .map(|n| format!("OVH_{}", n.to_ascii_uppercase()))
                .collect();
            let oauth =
                conf.get(&endpoint, "client_id").is_some() || env.var("OVH_CLIENT_ID").is_some();
            let mut hint = format!(
                "set {} in the environment, or {} in a snapctl profile ({}), or in the [{endpoint}] section of ovh.conf (./ovh.conf, ~/.ovh.conf or /etc/ovh.conf); create keys at {}",
                env_names.join(", "),
                missing.join(", "),
                settings
                    .config_path
                    .clone()
                    .or_else(|| crate::config::default_config_path(env))
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "config.toml".into()),
                create_token_url(&base_url),
            );
            if oauth {
                hint.push_str("; OAuth2 client_id/client_secret are not supported yet");
            }
            Err(Error::Config {
                message: format!("missing OVH credentials: {}", missing.join(", ")),
                hint: Some(hint),
            })
        }
    }
}

/// The page where OVH issues AK/AS/CK for this endpoint.
fn create_token_url(base: &Url) -> String {
    match base.host_str() {
        Some(host) => format!("{}://{host}/createToken/", base.scheme()),
        None => "https://eu.api.ovh.com/createToken/".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Env, Profile, Settings};
    use crate::kind::ProviderKind;

    fn settings(dir: &std::path::Path, vars: &[(&str, &str)], profile: Profile) -> Settings {
        let mut env = Env {
            home: Some(dir.join("home")),
            cwd: Some(dir.join("cwd")),
            ..Env::default()
        };
        for (k, v) in vars {
            env.vars.insert(k.to_string(), v.to_string());
        }
        Settings {
            provider: ProviderKind::OvhEfs,
            profile_name: None,
            profile,
            endpoint_flag: None,
            cacert_flag: None,
            insecure_flag: false,
            volume_endpoint_flag: None,
            service: None,
            region: None,
            region_flag: None,
            timeout: crate::config::DEFAULT_TIMEOUT,
            poll_interval: std::time::Duration::from_secs(5),
            config_path: None,
            env,
            warnings: vec![],
        }
    }

    fn layout() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("home")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("cwd")).expect("mkdir");
        dir
    }

    #[test]
    fn cwd_ovh_conf_overrides_home_and_env_overrides_both() {
        let dir = layout();
        std::fs::write(
            dir.path().join("home/.ovh.conf"),
            "[default]\nendpoint=ovh-ca\n[ovh-ca]\napplication_key=home-ak\napplication_secret=home-as\nconsumer_key=home-ck\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("cwd/ovh.conf"),
            "[ovh-ca]\napplication_key=cwd-ak\n",
        )
        .expect("write");
        let s = settings(
            dir.path(),
            &[("OVH_CONSUMER_KEY", "env-ck")],
            Profile::default(),
        );
        let c = resolve(&s, &mut vec![]).expect("resolves");
        assert_eq!(c.base_url.as_str(), "https://ca.api.ovh.com/1.0");
        let (ak, as_, ck) = c.credentials.expose();
        assert_eq!((ak, as_, ck), ("cwd-ak", "home-as", "env-ck"));
    }

    #[test]
    fn profile_beats_ovh_conf_and_flag_beats_env_endpoint() {
        let dir = layout();
        std::fs::write(
            dir.path().join("home/.ovh.conf"),
            "[ovh-eu]\napplication_key=conf-ak\napplication_secret=conf-as\nconsumer_key=conf-ck\n",
        )
        .expect("write");
        let profile = Profile {
            application_key: Some("profile-ak".into()),
            ..Profile::default()
        };
        let mut s = settings(dir.path(), &[("OVH_ENDPOINT", "ovh-us")], profile);
        s.endpoint_flag = Some("ovh-eu".into());
        let c = resolve(&s, &mut vec![]).expect("resolves");
        assert_eq!(c.base_url.as_str(), "https://eu.api.ovh.com/1.0");
        assert_eq!(c.credentials.expose().0, "profile-ak");
        assert_eq!(c.credentials.expose().1, "conf-as");
    }

    #[test]
    fn missing_credentials_are_named_with_the_three_places() {
        let dir = layout();
        let s = settings(
            dir.path(),
            &[("OVH_APPLICATION_KEY", "ak")],
            Profile::default(),
        );
        let err = resolve(&s, &mut vec![]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "missing OVH credentials: application_secret, consumer_key"
        );
        let hint = err.hint().expect("hint");
        assert!(
            hint.contains("OVH_APPLICATION_SECRET, OVH_CONSUMER_KEY"),
            "{hint}"
        );
        assert!(hint.contains("snapctl profile"), "{hint}");
        assert!(hint.contains("[ovh-eu] section of ovh.conf"), "{hint}");
        assert_eq!(err.exit_code(), crate::error::Exit::Auth);
    }

    #[test]
    fn endpoint_names_and_urls() {
        assert_eq!(
            endpoint_url("kimsufi-ca").expect("named").as_str(),
            "https://ca.api.kimsufi.com/1.0"
        );
        assert_eq!(
            endpoint_url("http://127.0.0.1:8080/1.0/")
                .expect("url")
                .as_str(),
            "http://127.0.0.1:8080/1.0"
        );
        assert!(endpoint_url("ovh-mars").is_err());
    }

    #[test]
    fn ovh_conf_debug_shows_keys_not_values() {
        let conf = OvhConf {
            values: vec![(
                "ovh-eu".into(),
                "application_secret".into(),
                "as-value".into(),
            )],
        };
        let dbg = format!("{conf:?}");
        assert!(
            dbg.contains("application_secret") && !dbg.contains("as-value"),
            "{dbg}"
        );
    }

    #[test]
    fn credentials_debug_is_redacted() {
        let c = OvhCredentials {
            application_key: "ak-value".into(),
            application_secret: "as-value".into(),
            consumer_key: "ck-value".into(),
        };
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("value"), "{dbg}");
    }
}
