//! Settings: global flags, environment and the snapctl profiles file, merged into typed [`Settings`].
//!
//! Precedence is always flag > environment > profile > the provider's own config files; the provider
//! modules apply the last step (e.g. `ovh.conf`) from the [`Env`] captured here. This module reads
//! files but never prints a secret: credentials are `SecretString`, whose `Debug` prints redacted.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::kind::ProviderKind;

/// The process environment as snapctl sees it, captured once so resolution stays testable.
#[derive(Clone, Default)]
pub struct Env {
    /// Environment variables.
    pub vars: HashMap<String, String>,
    /// Home directory.
    pub home: Option<PathBuf>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
}

impl std::fmt::Debug for Env {
    /// Variable names only: the environment holds `OVH_APPLICATION_SECRET`, `OS_PASSWORD`, …
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.vars.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("Env")
            .field("var_names", &names)
            .field("home", &self.home)
            .field("cwd", &self.cwd)
            .finish()
    }
}

impl Env {
    /// Capture the real process environment.
    pub fn capture() -> Self {
        Env {
            vars: std::env::vars().collect(),
            home: std::env::var_os("HOME").map(PathBuf::from),
            cwd: std::env::current_dir().ok(),
        }
    }

    /// A variable's value; set-but-empty counts as unset (as go-ovh and the OpenStack tools do).
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// The snapctl profiles file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Profile used when neither `--profile` nor `SNAPCTL_PROFILE` names one.
    pub default_profile: Option<String>,
    /// Named profiles.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// What a profile is for: one cloud's API, or an S3 API holding fleet state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileProvider {
    /// A cloud's profile.
    Cloud(ProviderKind),
    /// `provider = "s3"`: a state store (endpoint, region, access and secret key).
    S3,
}

impl ProfileProvider {
    /// The cloud, for a cloud's profile.
    pub fn cloud(self) -> Option<ProviderKind> {
        match self {
            ProfileProvider::Cloud(k) => Some(k),
            ProfileProvider::S3 => None,
        }
    }
}

impl<'de> Deserialize<'de> for ProfileProvider {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let key = String::deserialize(d)?;
        if key == "s3" {
            return Ok(ProfileProvider::S3);
        }
        ProviderKind::ALL
            .into_iter()
            .find(|k| k.as_str() == key)
            .map(ProfileProvider::Cloud)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "unknown provider {key:?}, expected one of {}, s3",
                    ProviderKind::key_list()
                ))
            })
    }
}

/// One `[profiles.NAME]` table.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Provider key: a cloud's, or `s3` for a state store (`state_profile` in a policy file).
    pub provider: Option<ProfileProvider>,
    /// Base URL or named endpoint (`ovh-eu`, …).
    pub endpoint: Option<String>,
    /// Service name (EFS: the service UUID; NAS-HA: `zpool-…`).
    pub service: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// Default `--timeout`.
    pub timeout: Option<String>,
    /// OVH application key.
    pub application_key: Option<SecretString>,
    /// OVH application secret.
    pub application_secret: Option<SecretString>,
    /// OVH consumer key.
    pub consumer_key: Option<SecretString>,
    /// OUTSCALE access key.
    pub access_key: Option<String>,
    /// OUTSCALE secret key.
    pub secret_key: Option<SecretString>,
    /// PowerVC/OpenStack user name.
    pub username: Option<String>,
    /// PowerVC/OpenStack password.
    pub password: Option<SecretString>,
    /// OpenStack project name (PowerVC default `ibm-default`).
    pub project_name: Option<String>,
    /// OpenStack project id (instead of the name).
    pub project_id: Option<String>,
    /// OpenStack user id (instead of the user name).
    pub user_id: Option<String>,
    /// OpenStack user domain (default `Default`).
    pub user_domain_name: Option<String>,
    /// OpenStack user domain by id (wins over the name).
    pub user_domain_id: Option<String>,
    /// OpenStack project domain (default `Default`).
    pub project_domain_name: Option<String>,
    /// OpenStack project domain by id (wins over the name).
    pub project_domain_id: Option<String>,
    /// CA certificate file for a private cloud (PowerVC's own CA).
    pub cacert: Option<std::path::PathBuf>,
    /// Skip TLS verification (warned on every run).
    pub insecure: Option<bool>,
    /// Allow plain `http://` endpoints that are not loopback (warned on every run).
    pub allow_http: Option<bool>,
    /// Volume service URL, overriding the token catalog.
    pub volume_endpoint: Option<String>,
    /// Re-authenticate this long before the token expires (default 60m, at most half its life).
    pub token_margin: Option<String>,
    /// Client-side requests per second (0: unlimited); overrides the provider's default.
    pub max_rps: Option<f64>,
    /// Items per page for providers whose lists page (OUTSCALE `ResultsPerPage`, Cinder `limit`).
    pub page_size: Option<u32>,
    /// Rotation policy used by `snapctl rotate` (and `check`'s prefix).
    pub rotate: Option<RotateConfig>,
}

/// `[profiles.NAME.rotate]`: the `rotate` flags, same names.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RotateConfig {
    /// Volumes to rotate.
    pub volumes: Option<Vec<String>>,
    /// Rotate every volume.
    pub all_volumes: Option<bool>,
    /// Take a snapshot first.
    pub create: Option<bool>,
    /// Candidate name prefix.
    pub prefix: Option<String>,
    /// Allow an empty prefix.
    pub all_names: Option<bool>,
    /// `--keep-last`.
    pub keep_last: Option<i64>,
    /// `--keep-hourly`.
    pub keep_hourly: Option<i64>,
    /// `--keep-daily`.
    pub keep_daily: Option<i64>,
    /// `--keep-weekly`.
    pub keep_weekly: Option<i64>,
    /// `--keep-monthly`.
    pub keep_monthly: Option<i64>,
    /// `--keep-yearly`.
    pub keep_yearly: Option<i64>,
    /// `--keep-within` (restic's grammar: `7d`, `1m` is a month).
    pub keep_within: Option<String>,
    /// `--keep-within-hourly`.
    pub keep_within_hourly: Option<String>,
    /// `--keep-within-daily`.
    pub keep_within_daily: Option<String>,
    /// `--keep-within-weekly`.
    pub keep_within_weekly: Option<String>,
    /// `--keep-within-monthly`.
    pub keep_within_monthly: Option<String>,
    /// `--keep-within-yearly`.
    pub keep_within_yearly: Option<String>,
    /// `--max-delete`.
    pub max_delete: Option<usize>,
    /// `--concurrency`.
    pub concurrency: Option<usize>,
    /// `--wait`.
    pub wait: Option<bool>,
    /// `--timezone`.
    pub timezone: Option<String>,
}

impl Profile {
    fn holds_secret(&self) -> bool {
        self.application_secret.is_some()
            || self.consumer_key.is_some()
            || self.secret_key.is_some()
            || self.password.is_some()
    }
}

/// Global options as given on the command line (and their `SNAPCTL_*` env fallbacks).
#[derive(Debug, Clone, Default)]
pub struct GlobalOpts {
    /// `-p/--provider`.
    pub provider: Option<ProviderKind>,
    /// `--profile`.
    pub profile: Option<String>,
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--endpoint`.
    pub endpoint: Option<String>,
    /// `--service`.
    pub service: Option<String>,
    /// `--region`.
    pub region: Option<String>,
    /// `--timeout`.
    pub timeout: Option<Duration>,
    /// `--poll-interval`.
    pub poll_interval: Option<Duration>,
    /// `--cacert`.
    pub cacert: Option<PathBuf>,
    /// `--insecure`.
    pub insecure: bool,
    /// `--volume-endpoint`.
    pub volume_endpoint: Option<String>,
    /// Send only to loopback (the emulator): set by `policy … --at`, whose simulated times must
    /// never reach a real cloud.
    pub loopback_only: bool,
}

/// Everything a provider needs to build itself.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Chosen provider.
    pub provider: ProviderKind,
    /// Chosen profile's name, if any.
    pub profile_name: Option<String>,
    /// Chosen profile (empty when none).
    pub profile: Profile,
    /// `--endpoint` as given (providers apply their env and profile fallbacks).
    pub endpoint_flag: Option<String>,
    /// `--cacert` as given.
    pub cacert_flag: Option<PathBuf>,
    /// `--insecure` as given.
    pub insecure_flag: bool,
    /// `--volume-endpoint` as given.
    pub volume_endpoint_flag: Option<String>,
    /// Service name: flag > `SNAPCTL_SERVICE` > profile.
    pub service: Option<String>,
    /// Region: flag > profile.
    pub region: Option<String>,
    /// `--region` alone (providers put their env variable between it and the profile).
    pub region_flag: Option<String>,
    /// Deadline for `--wait`.
    pub timeout: Duration,
    /// Pause between polls.
    pub poll_interval: Duration,
    /// Path of the profiles file used (for messages).
    pub config_path: Option<PathBuf>,
    /// The environment.
    pub env: Env,
    /// Warnings to print on stderr (world-readable secrets, …).
    pub warnings: Vec<String>,
}

impl Settings {
    /// Whether the chosen profile was named (`--profile`, `SNAPCTL_PROFILE`, `default_profile`)
    /// and holds a secret. Then a secret and the endpoint it goes to come as a pair from that
    /// profile: the environment and the providers' native files (`ovh.conf`,
    /// `~/.osc/config.json`, `clouds.yaml`) neither supply its credentials nor re-point its
    /// endpoint; only an explicit `--endpoint` does, with a warning naming both.
    pub fn bound(&self) -> bool {
        self.profile_name.is_some() && self.profile.holds_secret()
    }

    /// The environment the credential and endpoint layers read: empty when [`Settings::bound`].
    pub fn ambient(&self) -> Env {
        if self.bound() {
            Env {
                vars: Default::default(),
                home: self.env.home.clone(),
                cwd: self.env.cwd.clone(),
            }
        } else {
            self.env.clone()
        }
    }

    /// The warning for `--endpoint` beside a profile that holds secrets, when it points them
    /// somewhere else than the profile's own endpoint.
    pub fn endpoint_warning(&self) -> Option<String> {
        let flag = self.endpoint_flag.as_deref()?;
        let name = self.profile_name.as_deref()?;
        (self.bound() && self.profile.endpoint.as_deref() != Some(flag)).then(|| {
            format!(
                "--endpoint {flag} overrides profile {name}'s endpoint ({}): {name}'s credentials are sent to {flag}",
                self.profile.endpoint.as_deref().unwrap_or("the provider's default")
            )
        })
    }
}

/// Default `--wait` deadline.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Where the profiles file lives by default: `$XDG_CONFIG_HOME/snapctl/config.toml`.
pub fn default_config_path(env: &Env) -> Option<PathBuf> {
    if let Some(xdg) = env.var("XDG_CONFIG_HOME") {
        return Some(PathBuf::from(xdg).join("snapctl").join("config.toml"));
    }
    use etcetera::BaseStrategy;
    etcetera::choose_base_strategy()
        .ok()
        .map(|s| s.config_dir().join("snapctl").join("config.toml"))
}

/// Profile names of the config file (`SNAPCTL_CONFIG` or the default path), for shell completion:
/// any error gives none, and nothing is printed.
pub fn profile_names(env: &Env) -> Vec<String> {
    let path = env.var("SNAPCTL_CONFIG").map(PathBuf::from);
    load_config_file(path.as_deref(), env, &mut Vec::new())
        .map(|(file, _)| file.profiles.keys().cloned().collect())
        .unwrap_or_default()
}

/// Load the profiles file: an explicit path must exist, the default path may not.
pub fn load_config_file(
    path: Option<&Path>,
    env: &Env,
    warnings: &mut Vec<String>,
) -> Result<(ConfigFile, Option<PathBuf>)> {
    let (path, explicit) = match path {
        Some(p) => (p.to_path_buf(), true),
        None => match default_config_path(env) {
            Some(p) => (p, false),
            None => return Ok((ConfigFile::default(), None)),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
            return Ok((ConfigFile::default(), None));
        }
        Err(e) => {
            return Err(Error::Config {
                message: format!("cannot read config file {}: {e}", path.display()),
                hint: None,
            });
        }
    };
    let file: ConfigFile = toml::from_str(&text).map_err(|e| Error::Config {
        message: format!(
            "cannot parse config file {}{}: {}",
            path.display(),
            // Where, as editors count: line and column of the offending key or value.
            e.span()
                .map(|span| {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                    format!(", line {line}, column {col}")
                })
                .unwrap_or_default(),
            e.message()
        ),
        hint: Some("see docs/configuration.md for the profile keys".into()),
    })?;
    inspect_config_file(
        &path,
        file.profiles.values().any(Profile::holds_secret),
        warnings,
    );
    Ok((file, Some(path)))
}

/// Warn about a configuration file snapctl has just read: when it holds secrets and group or
/// others can read it, and, whatever it holds, when it could have been written by someone else (not
/// owned by the user or root, or writable by group or others). A planted `./ovh.conf` or
/// `./clouds.yaml` can redirect the endpoint while the credentials come from the environment.
pub fn inspect_config_file(path: &Path, holds_secret: bool, warnings: &mut Vec<String>) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        let mode = meta.permissions().mode() & 0o777;
        let shown = crate::text::one_line(&path.display().to_string(), 512);
        if holds_secret && mode & 0o077 != 0 {
            warnings.push(format!(
                "{shown} holds secrets and is readable by others (mode {mode:03o}); run: chmod 600 {shown}"
            ));
        }
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me && meta.uid() != 0 {
            warnings.push(format!(
                "{shown} belongs to another user (uid {}) and can decide where snapctl sends your credentials; use it only if you trust it, or remove it",
                meta.uid()
            ));
        } else if mode & 0o022 != 0 {
            warnings.push(format!(
                "{shown} can be changed by other users (mode {mode:03o}) and can decide where snapctl sends your credentials; run: chmod go-w {shown}"
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = (path, holds_secret, warnings);
}

/// Merge flags, environment and the profiles file. `provider_required` is false for commands such
/// as `providers` that run without one.
pub fn resolve(opts: &GlobalOpts, env: Env, provider_required: bool) -> Result<Option<Settings>> {
    let mut warnings = Vec::new();
    let (file, config_path) = load_config_file(opts.config.as_deref(), &env, &mut warnings)?;
    let (profile_name, profile, provider) =
        choose_profile(opts, &file, config_path.as_deref(), &env)?;
    let provider = match provider {
        Some(p) => p,
        None if provider_required => {
            return Err(Error::Usage {
                message: "no provider chosen".into(),
                hint: Some(format!(
                    "pass -p/--provider ({}), set SNAPCTL_PROVIDER, or set provider in a profile",
                    ProviderKind::key_list()
                )),
            });
        }
        None => return Ok(None),
    };
    let timeout = match (opts.timeout, &profile.timeout) {
        (Some(t), _) => t,
        (None, Some(t)) => parse_duration(t).map_err(|reason| Error::Config {
            message: format!("invalid timeout {t:?} in profile: {reason}"),
            hint: None,
        })?,
        (None, None) => DEFAULT_TIMEOUT,
    };
    Ok(Some(Settings {
        provider,
        profile_name,
        service: opts.service.clone().or_else(|| profile.service.clone()),
        region: opts.region.clone().or_else(|| profile.region.clone()),
        region_flag: opts.region.clone(),
        endpoint_flag: opts.endpoint.clone(),
        cacert_flag: opts.cacert.clone(),
        insecure_flag: opts.insecure,
        volume_endpoint_flag: opts.volume_endpoint.clone(),
        profile,
        timeout,
        poll_interval: opts.poll_interval.unwrap_or(Duration::from_secs(5)),
        config_path,
        env,
        warnings,
    }))
}

/// Pick the profile and the provider. A profile belongs to exactly one provider: an explicitly
/// chosen profile (`--profile`/`SNAPCTL_PROFILE`) of another provider than `-p` is an error, and the
/// file's `default_profile` is simply not used when `-p` names another provider, so no endpoint,
/// service or credential of one cloud is ever applied to another.
fn choose_profile(
    opts: &GlobalOpts,
    file: &ConfigFile,
    config_path: Option<&Path>,
    env: &Env,
) -> Result<(Option<String>, Profile, Option<ProviderKind>)> {
    let (name, explicit) = match (&opts.profile, &file.default_profile) {
        (Some(name), _) => (name.clone(), true),
        (None, Some(name)) => (name.clone(), false),
        (None, None) => return Ok((None, Profile::default(), opts.provider)),
    };
    let file_name = config_path
        .map(|p| p.display().to_string())
        .or_else(|| default_config_path(env).map(|p| p.display().to_string()))
        .unwrap_or_else(|| "config.toml".into());
    let Some(profile) = file.profiles.get(&name) else {
        let valid: Vec<&str> = file.profiles.keys().map(String::as_str).collect();
        let what = if explicit {
            "unknown profile"
        } else {
            "default_profile names an unknown profile"
        };
        return Err(Error::Usage {
            message: format!("{what} {name:?}"),
            hint: Some(if valid.is_empty() {
                match config_path {
                    Some(p) => format!("{} defines no profiles", p.display()),
                    None => format!(
                        "no config file found; create {file_name} with a [profiles.{name}] table"
                    ),
                }
            } else {
                format!("valid profiles: {}", valid.join(", "))
            }),
        });
    };
    if profile.provider == Some(ProfileProvider::S3) {
        return Err(Error::Config {
            message: format!(
                "profile {name:?} is an S3 state store's (provider = \"s3\"), not a cloud's"
            ),
            hint: Some(
                "name it as state_profile in a policy file; choose a cloud's profile here".into(),
            ),
        });
    }
    let Some(owner) = profile.provider.and_then(ProfileProvider::cloud) else {
        return Err(Error::Config {
            message: format!("profile {name:?} names no provider"),
            hint: Some(format!(
                "a profile belongs to one provider: add provider = \"<{}>\" to [profiles.{name}] in {file_name}",
                ProviderKind::key_list().replace(", ", "|")
            )),
        });
    };
    match opts.provider {
        Some(chosen) if chosen != owner && explicit => Err(Error::Config {
            message: format!(
                "profile {name:?} is for {owner}, not for {chosen}: its endpoint and credentials stay with {owner}"
            ),
            hint: Some(format!(
                "drop -p/SNAPCTL_PROVIDER to use the profile with {owner}, or choose a {chosen} profile with --profile"
            )),
        }),
        // The default profile serves its own provider only; another provider runs without it.
        Some(chosen) if chosen != owner => Ok((None, Profile::default(), Some(chosen))),
        _ => Ok((Some(name), profile.clone(), Some(owner))),
    }
}

/// The one layered lookup every provider uses for every setting: the first value that is set, in
/// the order flag > environment (the first of `env_names` that is set; empty counts as unset) >
/// snapctl profile > the provider's native file.
pub fn layered(
    flag: Option<&str>,
    env: &Env,
    env_names: &[&str],
    profile: Option<&str>,
    native: Option<&str>,
) -> Option<String> {
    flag.or_else(|| env_names.iter().find_map(|n| env.var(n)))
        .or(profile)
        .or(native)
        .map(str::to_string)
}

/// Parse an API base URL (`http(s)://host[:port]/path`, trailing `/` dropped) from configuration;
/// `what` names it in messages and `example` shows a good one.
pub fn base_url(raw: &str, what: &str, example: &str) -> Result<reqwest::Url> {
    let bad = |detail: String| Error::Config {
        message: format!("invalid {what} {raw:?}: {detail}"),
        hint: Some(format!("e.g. {example}")),
    };
    let url = reqwest::Url::parse(raw.trim_end_matches('/')).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(bad("expected http(s)://host/path".into()));
    }
    Ok(url)
}

/// Parse `30s`, `5m`, `1h30m`, `2d` or ISO 8601 `PT5M` into a duration.
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let t = text.trim();
    let signed: jiff::SignedDuration = match t.parse::<jiff::SignedDuration>() {
        Ok(d) => d,
        Err(_) => {
            // Calendar units (days) are not fixed-length in SignedDuration; accept them as 24 h.
            let span: jiff::Span = t.parse().map_err(|e: jiff::Error| {
                format!("expected a duration such as 30s, 5m, 2h or 7d ({e})")
            })?;
            span.to_duration(jiff::SpanRelativeTo::days_are_24_hours())
                .map_err(|e| e.to_string())?
        }
    };
    if signed.is_negative() {
        return Err("a duration cannot be negative".into());
    }
    Duration::try_from(signed).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn durations_parse_in_friendly_and_iso_forms() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("PT2M"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-5s").is_err());
    }

    fn env_with_config(dir: &Path) -> Env {
        let mut env = Env::default();
        env.vars
            .insert("XDG_CONFIG_HOME".into(), dir.display().to_string());
        env
    }

    fn write_config(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("snapctl").join("config.toml");
        std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
        let mut f = std::fs::File::create(&path).expect("create");
        f.write_all(text.as_bytes()).expect("write");
        path
    }

    #[test]
    fn the_layered_lookup_takes_flag_then_env_then_profile_then_native() {
        let mut env = Env::default();
        env.vars.insert("B_ENV".into(), "env".into());
        env.vars.insert("EMPTY".into(), String::new());
        let names = ["A_ENV", "EMPTY", "B_ENV"];
        let get = |flag, profile, native| layered(flag, &env, &names, profile, native);
        assert_eq!(
            get(Some("flag"), Some("profile"), Some("native")).as_deref(),
            Some("flag")
        );
        assert_eq!(
            get(None, Some("profile"), Some("native")).as_deref(),
            Some("env")
        );
        let no_env = Env::default();
        let get = |profile, native| layered(None, &no_env, &names, profile, native);
        assert_eq!(
            get(Some("profile"), Some("native")).as_deref(),
            Some("profile")
        );
        assert_eq!(get(None, Some("native")).as_deref(), Some("native"));
        assert_eq!(get(None, None), None);
    }

    #[test]
    fn flags_beat_profile_values() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_config(
            dir.path(),
            "default_profile = \"prod\"\n[profiles.prod]\nprovider = \"ovh-efs\"\nservice = \"from-profile\"\nregion = \"eu\"\ntimeout = \"2m\"\n",
        );
        let env = env_with_config(dir.path());
        let opts = GlobalOpts {
            service: Some("from-flag".into()),
            ..GlobalOpts::default()
        };
        let s = resolve(&opts, env, true)
            .expect("resolves")
            .expect("provider");
        assert_eq!(s.provider, ProviderKind::OvhEfs);
        assert_eq!(s.service.as_deref(), Some("from-flag"));
        assert_eq!(s.region.as_deref(), Some("eu"));
        assert_eq!(s.timeout, Duration::from_secs(120));
        assert_eq!(s.profile_name.as_deref(), Some("prod"));
    }

    #[test]
    fn unknown_profile_lists_valid_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_config(
            dir.path(),
            "[profiles.prod]\nprovider = \"ovh-efs\"\n[profiles.staging]\nprovider = \"ovh-efs\"\n",
        );
        let opts = GlobalOpts {
            profile: Some("prd".into()),
            ..GlobalOpts::default()
        };
        let err = resolve(&opts, env_with_config(dir.path()), true).unwrap_err();
        assert_eq!(err.to_string(), "unknown profile \"prd\"");
        assert_eq!(err.hint().as_deref(), Some("valid profiles: prod, staging"));
    }

    #[test]
    fn unknown_profile_key_is_a_config_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_config(dir.path(), "[profiles.prod]\nprovidr = \"ovh-efs\"\n");
        let err = resolve(&GlobalOpts::default(), env_with_config(dir.path()), true).unwrap_err();
        assert!(err.to_string().contains("unknown field `providr`"), "{err}");
    }

    /// One profile per provider, each with its own endpoint and service.
    fn four_profiles(dir: &Path, default: &str) -> Env {
        let mut text = format!("default_profile = \"{default}\"\n");
        for k in ProviderKind::ALL {
            text.push_str(&format!(
                "[profiles.{k}]\nprovider = \"{k}\"\nendpoint = \"https://{k}.example/api\"\nservice = \"svc-{k}\"\n"
            ));
        }
        write_config(dir, &text);
        env_with_config(dir)
    }

    #[test]
    fn an_explicit_profile_of_another_provider_is_refused_for_every_pair() {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = four_profiles(dir.path(), "ovh-efs");
        for owner in ProviderKind::ALL {
            for chosen in ProviderKind::ALL {
                let opts = GlobalOpts {
                    provider: Some(chosen),
                    profile: Some(owner.to_string()),
                    ..GlobalOpts::default()
                };
                let got = resolve(&opts, env.clone(), true);
                if owner == chosen {
                    let s = got.expect("same provider resolves").expect("provider");
                    assert_eq!(s.provider, chosen);
                    assert_eq!(s.service.as_deref(), Some(format!("svc-{owner}").as_str()));
                } else {
                    let err = got.expect_err("another provider's profile is refused");
                    assert_eq!(err.exit_code(), crate::error::Exit::Auth, "{err}");
                    let text = err.to_string();
                    assert!(
                        text.contains(&format!("is for {owner}, not for {chosen}")),
                        "{text}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_default_profile_of_another_provider_is_not_used_for_every_pair() {
        for owner in ProviderKind::ALL {
            let dir = tempfile::tempdir().expect("tempdir");
            let env = four_profiles(dir.path(), owner.as_str());
            for chosen in ProviderKind::ALL {
                let opts = GlobalOpts {
                    provider: Some(chosen),
                    ..GlobalOpts::default()
                };
                let s = resolve(&opts, env.clone(), true)
                    .expect("resolves")
                    .expect("provider");
                assert_eq!(s.provider, chosen);
                if owner == chosen {
                    assert_eq!(s.profile_name.as_deref(), Some(owner.as_str()));
                    assert!(s.profile.endpoint.is_some());
                } else {
                    assert_eq!(s.profile_name, None, "{owner} default leaked into {chosen}");
                    assert_eq!(s.profile.endpoint, None);
                    assert_eq!(s.service, None);
                }
            }
            // Without -p, the default profile chooses its own provider.
            let s = resolve(&GlobalOpts::default(), env, true)
                .expect("resolves")
                .expect("provider");
            assert_eq!(s.provider, owner);
        }
    }

    #[test]
    fn a_profile_without_provider_is_a_config_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_config(
            dir.path(),
            "[profiles.lab]\nendpoint = \"https://lab.example/v3\"\n",
        );
        let opts = GlobalOpts {
            provider: Some(ProviderKind::Powervc),
            profile: Some("lab".into()),
            ..GlobalOpts::default()
        };
        let err = resolve(&opts, env_with_config(dir.path()), true).unwrap_err();
        assert_eq!(err.to_string(), "profile \"lab\" names no provider");
        assert_eq!(err.exit_code(), crate::error::Exit::Auth);
    }

    #[test]
    fn debug_of_the_environment_and_profiles_never_shows_a_secret() {
        let mut env = Env::default();
        for (k, v) in [
            ("OVH_APPLICATION_SECRET", "ovh-as-secret"),
            ("OS_PASSWORD", "pvc-password-secret"),
            ("OSC_SECRET_KEY", "osc-sk-secret"),
        ] {
            env.vars.insert(k.into(), v.into());
        }
        let dbg = format!("{env:?}");
        assert!(dbg.contains("OS_PASSWORD"), "{dbg}");
        for secret in ["ovh-as-secret", "pvc-password-secret", "osc-sk-secret"] {
            assert!(!dbg.contains(secret), "{dbg}");
        }
        let profile: Profile = toml::from_str(
            "application_key = \"ak-secret\"\napplication_secret = \"as-secret\"\nconsumer_key = \"ck-secret\"\nsecret_key = \"sk-secret\"\npassword = \"pw-secret\"\n",
        )
        .expect("parses");
        let dbg = format!("{profile:?}");
        assert!(!dbg.contains("-secret"), "{dbg}");
    }

    #[cfg(unix)]
    #[test]
    fn a_powervc_password_in_a_readable_profile_warns() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_config(
            dir.path(),
            "[profiles.p]\nprovider = \"powervc\"\nusername = \"root\"\npassword = \"pvc-pass\"\n",
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let mut warnings = vec![];
        load_config_file(Some(&path), &Env::default(), &mut warnings).expect("loads");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("holds secrets"), "{warnings:?}");
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_can_change_or_own_warns_even_without_secrets() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ovh.conf");
        std::fs::write(&path, "[default]\nendpoint=ovh-eu\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        let mut warnings = vec![];
        inspect_config_file(&path, false, &mut warnings);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("chmod go-w"), "{warnings:?}");

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let mut warnings = vec![];
        inspect_config_file(&path, false, &mut warnings);
        assert!(warnings.is_empty(), "{warnings:?}");

        // Another owner can only be arranged by root; as another user, the mode case above stands.
        if rustix::process::geteuid().is_root() {
            std::os::unix::fs::chown(&path, Some(4242), None).expect("chown");
            let mut warnings = vec![];
            inspect_config_file(&path, false, &mut warnings);
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(
                warnings[0].contains("another user (uid 4242)"),
                "{warnings:?}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn world_readable_secrets_warn() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_config(
            dir.path(),
            "default_profile = \"p\"\n[profiles.p]\nprovider = \"ovh-efs\"\napplication_secret = \"s3cr3t\"\n",
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let s = resolve(&GlobalOpts::default(), env_with_config(dir.path()), true)
            .expect("resolves")
            .expect("provider");
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert!(s.warnings[0].contains("chmod 600"));
        assert!(
            !format!("{s:?}").contains("s3cr3t"),
            "Debug leaks the secret"
        );

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let s = resolve(&GlobalOpts::default(), env_with_config(dir.path()), true)
            .expect("resolves")
            .expect("provider");
        assert!(s.warnings.is_empty());
    }
}
