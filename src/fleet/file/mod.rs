//! The policy file (TOML, no secrets: credentials come from the profiles) and its checks. Every
//! mistake is reported with the file, the line and the key, before anything is sent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::engine::retention::CalendarSpan;
use crate::error::{Error, Result};
use crate::kind::ProviderKind;

mod keys;
use keys::*;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// Prometheus textfile-collector output.
    pub metrics_file: Option<PathBuf>,
    /// JSON report of the last run.
    pub report_file: Option<PathBuf>,
    /// Prometheus Pushgateway the run's metrics are pushed to (`http(s)://host:port`);
    /// `--push-url` wins over it.
    pub metrics_push_url: Option<String>,
    /// Where every `apply` leaves its report, for `policy report` (pruned snapshots are gone from
    /// the clouds; the history remembers them).
    pub history_dir: Option<PathBuf>,
    /// How long the history keeps a run's report [default: 400d].
    pub history_keep: Option<String>,
    /// Where restore drills keep what they need between runs (when each volume was last
    /// drilled and how it went) [default: `$SNAPCTL_STATE_DIR`, else the user's state
    /// directory, `~/.local/state/snapctl`].
    pub state_dir: Option<PathBuf>,
    /// Where drills keep their state instead, in the user's own object storage:
    /// `s3://BUCKET/PREFIX` (any S3 API; not with `state_dir`). A runner needs nothing else on
    /// its disk: a fresh pod makes the decisions a long-lived runner would.
    pub state: Option<String>,
    /// The profile (`provider = "s3"`: endpoint, region, keys) `state` is reached with.
    pub state_profile: Option<String>,
    /// How long an `apply`'s lease in the state store lasts unless renewed (renewed every
    /// third of it while the run goes on; a runner that dies holds it this long) [default: 60s].
    pub lease_ttl: Option<String>,
    /// Zone the calendar buckets are cut in (IANA name) [default: UTC].
    pub timezone: Option<String>,
    /// The policies.
    #[serde(default)]
    pub policy: Vec<Policy>,
}

/// One policy: which volumes, how often, what to keep.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Short, stable id (`[a-z0-9-]`): it marks the snapshots the policy owns.
    pub id: String,
    /// Provider key (or take it from the profile).
    pub provider: Option<ProviderKind>,
    /// snapctl profile holding the credentials.
    pub profile: Option<String>,
    /// The usual connection keys.
    pub service: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// Endpoint.
    pub endpoint: Option<String>,
    /// Cadence as a duration (`30s`, `15min`, `1h`, `1d`).
    pub every: Option<String>,
    /// Cadence as a cron expression (`MIN HOUR DOM MON DOW`).
    pub cron: Option<String>,
    /// Volumes the selector must match: `N..M` or `N..`.
    pub expect_volumes: Option<String>,
    /// Which volumes.
    pub select: Selector,
    /// Volumes left out even when selected.
    pub exclude: Option<Selector>,
    /// Retention.
    pub keep: Keep,
    /// Refuse a run of this policy that would delete more than this.
    pub max_delete: Option<usize>,
    /// Freshness thresholds for `check` and the metrics (default from the cadence).
    pub alert: Option<Alert>,
    /// Command run (`sh -c`) before each volume's snapshot; a failure skips that volume.
    pub pre: Option<String>,
    /// Command run after each volume's snapshot is taken.
    pub post: Option<String>,
    /// Longest a hook may run [default: 5min].
    pub hook_timeout: Option<String>,
    /// Names of snapctl's environment variables the hooks also get (beyond `PATH`, `HOME`,
    /// `LANG`, `LC_*`, `TZ` and the `SNAPCTL_*` ones).
    #[serde(default)]
    pub hook_env: Vec<String>,
    /// Restore drills: on their own cadence, restore the newest owned snapshot of some selected
    /// volumes, verify, measure and delete the restored volume (`fleet/drill/`).
    pub drill: Option<Drill>,
    /// Copies of every owned snapshot in other Regions, each with its own retention there
    /// (OUTSCALE: export → pre-signed URL → import; `fleet/copy/`).
    #[serde(default)]
    pub copy: Vec<Copy>,
    /// Copies of this policy to one destination under way at once (export, import)
    /// [default: 4, at most 16].
    pub copy_concurrency: Option<usize>,
    /// Longest a run waits for this policy's copies (exports and imports) [default: 10min]:
    /// what is still on its way stays in flight, and the next run resumes it.
    pub copy_budget: Option<String>,
    /// PowerVC: snapshot attached (`in-use`) volumes too (Cinder's `force`): the snapshot is
    /// crash-consistent unless a `pre` hook quiesces the volume. Other providers snapshot
    /// attached volumes anyway and refuse the key.
    #[serde(default)]
    pub force: bool,
}

/// `drill = { every = "7d", volumes = 1, verify = "…", timeout = "2h", max_restore = "30min" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drill {
    /// How often the policy drills (a duration, as `every`).
    pub every: String,
    /// Volumes restored per drill, taken in turn (the longest undrilled first) [default: 1].
    pub volumes: Option<usize>,
    /// Command run (`sh -c`, the hook rules) once the restored volume is usable; it gets
    /// `SNAPCTL_DRILL_VOLUME_ID`, `SNAPCTL_DRILL_SNAPSHOT_ID` and how to reach the volume.
    pub verify: Option<String>,
    /// Longest one volume's drill may take, restore and verify together [default: 2h].
    pub timeout: Option<String>,
    /// A restore slower than this makes `check` CRITICAL.
    pub max_restore: Option<String>,
}

/// `copy = [{ region = "…", profile = "…", bucket = "…", keep = { daily = 30, min = 3 } }]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Copy {
    /// The destination Region.
    pub region: String,
    /// The profile of the destination account (OUTSCALE accounts are per Region): its keys and
    /// endpoint import the copies there, and only there.
    pub profile: String,
    /// An OOS bucket of the *source* account and Region the snapshots are exported to on their
    /// way (each image is deleted once imported).
    pub bucket: String,
    /// Retention of the copies at the destination.
    pub keep: Keep,
    /// Longest one copy may take, export and import together [default: 6h].
    pub timeout: Option<String>,
}

/// Default of `copy_concurrency`: copies to one destination under way at once. An account's
/// limit of concurrent snapshot tasks answers `10008 too-many-concurrent-snapshots` past it;
/// 4 leaves room for the account's other work (reading the limit from `ReadQuotas` is issue 41
/// §3).
pub const DEFAULT_COPY_CONCURRENCY: usize = 4;

/// Default of `copy_budget`: how long a run waits for one policy's copies.
pub const DEFAULT_COPY_BUDGET: &str = "10min";

/// Most `copy_concurrency` accepts.
pub const MAX_COPY_CONCURRENCY: usize = 16;

/// Default of a copy's `timeout`.
pub const DEFAULT_COPY_TIMEOUT: &str = "6h";

/// A drill's durations, checked, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrillTimes {
    /// Cadence.
    pub every: u64,
    /// Volumes per drill.
    pub volumes: usize,
    /// Timeout of one volume's drill.
    pub timeout: u64,
    /// Slowest acceptable restore.
    pub max_restore: Option<u64>,
}

/// When a volume's newest owned snapshot is too old.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    /// WARNING past this age [default: 1.5 × the cadence].
    pub warn: Option<String>,
    /// CRITICAL past this age [default: 2 × the cadence].
    pub crit: Option<String>,
}

/// Keys AND, list values OR.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    /// Volume ids.
    #[serde(default)]
    pub ids: Vec<String>,
    /// Whole volume names.
    #[serde(default)]
    pub names: Vec<String>,
    /// A regular expression over the volume name.
    pub name_regex: Option<String>,
    /// Tags (OUTSCALE) or metadata (PowerVC) that must all be present.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Every volume of the account (`select = { all = true }`), alone.
    #[serde(default)]
    pub all: bool,
}

/// Retention, restic's semantics as `rotate` has them, plus a floor.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keep {
    /// The N newest.
    pub last: Option<usize>,
    /// Newest of each of the N most recent hours.
    pub hourly: Option<usize>,
    /// … days.
    pub daily: Option<usize>,
    /// … ISO weeks.
    pub weekly: Option<usize>,
    /// … months.
    pub monthly: Option<usize>,
    /// … years.
    pub yearly: Option<usize>,
    /// Everything younger than this (restic's grammar: `1y2mo3d4h`).
    pub within: Option<String>,
    /// Never fewer than this many owned snapshots.
    pub min: Option<usize>,
}

/// `N..M` or `N..`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// At least.
    pub min: usize,
    /// At most.
    pub max: Option<usize>,
}

/// A file that passed every check.
#[derive(Debug)]
pub struct Checked {
    /// The parsed file.
    pub file: PolicyFile,
    /// Each policy's cadence, in seconds (cron policies: `None`).
    pub every_secs: Vec<Option<u64>>,
    /// Each policy's `(warn, crit)` ages in seconds, when given.
    pub alerts: Vec<(Option<u64>, Option<u64>)>,
    /// Each policy's hook timeout in seconds.
    pub hook_timeouts: Vec<u64>,
    /// Each policy's `expect_volumes`.
    pub expect: Vec<Option<Range>>,
    /// Each policy's drill, checked.
    pub drills: Vec<Option<DrillTimes>>,
    /// SHA-256 (hex) of the text checked: what a saved plan records of the file.
    pub sha256: String,
    /// `history_keep` in seconds.
    pub history_keep: u64,
}

/// Where a key of a policy is: the line of `key` inside the `[[policy]]` block whose id is `id`.
fn line_of(text: &str, id: &str, key: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| {
        let t = l.trim();
        t.starts_with("id") && t.contains(&format!("\"{id}\""))
    })?;
    let block_start = lines[..start]
        .iter()
        .rposition(|l| l.trim() == "[[policy]]")
        .unwrap_or(0);
    let block_end = lines[start + 1..]
        .iter()
        .position(|l| l.trim() == "[[policy]]")
        .map_or(lines.len(), |i| start + 1 + i);
    (block_start..block_end)
        .find(|i| {
            let t = lines[*i].trim_start();
            t.starts_with(key) && t[key.len()..].trim_start().starts_with(['=', '.', ']'])
                || t.starts_with(&format!("[policy.{key}]"))
        })
        .map(|i| i + 1)
}

/// A duration of the file, in seconds (see `cadence`).
pub fn duration_secs(text: &str) -> std::result::Result<u64, String> {
    cadence(text)
}

/// A duration of the file. Minutes are `min`, months `mo`: a bare `m` is refused, since restic's
/// retention grammar reads it as months and everything else as minutes.
/// Seconds between ticks in the file's own units (`30min`, `6h`, `1d 12h`), never a bare `m`.
pub fn cadence_words(secs: u64) -> String {
    if secs == 0 {
        return "?".into();
    }
    let mut parts = Vec::new();
    let mut rest = secs;
    for (unit, size) in [("d", 86_400), ("h", 3600), ("min", 60), ("s", 1)] {
        if rest >= size {
            parts.push(format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    parts.join(" ")
}

fn cadence(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 30s, 15min, 1h or 1d"))?;
    let secs = match unit.trim() {
        "s" => 1,
        "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "m" => {
            return Err(format!(
                "{text:?} is ambiguous: restic's retention grammar reads m as months, everything else as minutes; write {n}min or {n}mo"
            ));
        }
        "mo" => {
            return Err(format!(
                "{text:?}: a cadence in months is not supported; use days"
            ));
        }
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (use s, min, h, d or w)"
            ));
        }
    };
    match n.checked_mul(secs) {
        Some(0) => Err("a cadence of zero".into()),
        Some(s) if s <= MAX_DURATION_SECS => Ok(s),
        _ => Err(format!("{text:?} is longer than 10 years")),
    }
}

/// Default of `history_keep`: how long the run history keeps a run.
pub const DEFAULT_HISTORY_KEEP: &str = "400d";

/// Why `kind` cannot be drilled, if it cannot: a drill makes a volume from a snapshot (and
/// deletes it), which the registry says the provider can (`clone`).
pub fn drill_refusal(kind: ProviderKind) -> std::result::Result<(), String> {
    let e = crate::providers::entry(kind);
    if e.capabilities.clone == crate::kind::Support::No {
        return Err(format!(
            "{} ({kind}) has no call that makes a volume from a snapshot, so a snapshot cannot be restored to drill it; drop drill from this policy",
            e.product
        ));
    }
    Ok(())
}

/// Why `kind` cannot copy snapshots to another Region, if it cannot: the route is export to a
/// bucket and import elsewhere, which the registry says the provider has (`export`).
pub fn copy_refusal(kind: ProviderKind) -> std::result::Result<(), String> {
    let e = crate::providers::entry(kind);
    if e.capabilities.export == crate::kind::Support::No {
        return Err(format!(
            "{} ({kind}) has no export of a snapshot to a bucket, so it has no route to another region; drop copy from this policy",
            e.product
        ));
    }
    Ok(())
}

/// The longest duration a policy file may give (cadences, alert ages, hook timeouts): ten years.
const MAX_DURATION_SECS: u64 = 10 * 366 * 86_400;

/// Parse `N..M` or `N..`.
pub fn range(text: &str) -> std::result::Result<Range, String> {
    let bad = || format!("{text:?} is not a range N..M or N..");
    let (a, b) = text.trim().split_once("..").ok_or_else(bad)?;
    let min = a.trim().parse().map_err(|_| bad())?;
    let max = match b.trim() {
        "" => None,
        m => Some(m.parse().map_err(|_| bad())?),
    };
    if max.is_some_and(|m| m < min) {
        return Err(format!("{text:?}: the upper bound is below the lower one"));
    }
    Ok(Range { min, max })
}

/// Parse and check `path`; every error says the file, the line and the key (exit 2).
pub fn load_policy_file(path: &Path) -> Result<Checked> {
    load_with_profiles(path, None)
}

/// A profile as the policy file's checks see it: its name, endpoint and provider.
pub type ProfileRow = (String, Option<String>, Option<ProviderKind>);

/// The profiles file's profiles and how to name that file in messages.
pub type Profiles<'a> = (&'a [ProfileRow], &'a str);

/// [`load_policy_file`], also refusing a policy whose `profile` is not one of `profiles` (the profiles file's
/// names; `None`: not checked). A file that cannot be read (missing, a dangling link, a
/// directory, not UTF-8) is a usage error (exit 2), like any other problem with the file.
pub fn load_with_profiles(path: &Path, profiles: Option<Profiles<'_>>) -> Result<Checked> {
    let bytes = std::fs::read(path).map_err(|e| Error::Usage {
        message: format!(
            "cannot read policy file {}: {}",
            path.display(),
            if path.is_dir() {
                "it is a directory".to_string()
            } else if path.symlink_metadata().is_ok() && !path.exists() {
                "it is a symbolic link to nothing".to_string()
            } else {
                e.to_string()
            }
        ),
        hint: Some("give the path of a policy file (TOML): snapctl policy validate -f FILE".into()),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| Error::Usage {
        message: format!(
            "{}, line {}: not UTF-8 text",
            path.display(),
            e.as_bytes()[..e.utf8_error().valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1
        ),
        hint: Some("a policy file is UTF-8 TOML".into()),
    })?;
    // Every policy file is code, hooks or not: its `report_file` says where root writes, its
    // `metrics_push_url` where the gateway's password goes, its `copy` where volume images go,
    // its `drill` what is created and deleted. It must be as safe from others as a crontab,
    // checked before anything else is read from it (nothing is sent).
    check_strict(path, "policy file")?;
    let checked = check(path, &text)?;
    // A policy file is code: its `endpoint` may not send a profile's (or the environment's)
    // credentials to another host than the profile's own.
    for p in &checked.file.policy {
        let Some(endpoint) = &p.endpoint else {
            continue;
        };
        let profile_endpoint = profiles.and_then(|(known, _)| {
            let name = p.profile.as_ref()?;
            known.iter().find(|(n, _, _)| n == name)?.1.as_ref()
        });
        if profile_endpoint != Some(endpoint) {
            return Err(Error::Usage {
                message: format!(
                    "{}{}: policy {:?}, endpoint: {endpoint:?} would receive the credentials of {}",
                    path.display(),
                    line_of(&text, &p.id, "endpoint")
                        .map(|l| format!(", line {l}"))
                        .unwrap_or_default(),
                    p.id,
                    p.profile
                        .as_deref()
                        .map(|n| format!("profile {n:?}, whose endpoint is another"))
                        .unwrap_or_else(|| "the environment".into())
                ),
                hint: Some(
                    "define a profile with that endpoint and its own credentials in the profiles file, and name it with profile = \"NAME\"".into(),
                ),
            });
        }
    }
    if let Some((known, source)) = profiles {
        let names: Vec<String> = known.iter().map(|(n, _, _)| n.clone()).collect();
        let known = &names;
        for p in &checked.file.policy {
            if let Some(name) = &p.profile
                && !known.contains(name)
            {
                return Err(Error::Usage {
                    message: format!(
                        "{}{}: policy {:?}, profile: no profile {name:?} in {source}",
                        path.display(),
                        line_of(&text, &p.id, "profile")
                            .map(|l| format!(", line {l}"))
                            .unwrap_or_default(),
                        p.id
                    ),
                    hint: Some(if known.is_empty() {
                        "define it in the profiles file (see docs/configuration.md)".into()
                    } else {
                        format!("profiles there: {}", known.join(", "))
                    }),
                });
            }
        }
    }
    if let Some(profiles) = profiles {
        check_by_profile(path, &text, &checked.file, profiles)?;
    }
    Ok(checked)
}

/// The checks that need the profiles file: a drill or a copy on a policy whose provider comes
/// from its profile, refused as `validate` refuses it when the policy names the provider; each
/// copy's profile defined, and of a provider with the route.
fn check_by_profile(
    path: &Path,
    text: &str,
    file: &PolicyFile,
    (known, source): Profiles<'_>,
) -> Result<()> {
    if let Some(name) = &file.state_profile
        && !known.iter().any(|(n, _, _)| n == name)
    {
        return Err(Error::Usage {
            message: format!(
                "{}: state_profile {name:?}: no such profile in {source}",
                path.display()
            ),
            hint: Some(
                "define it in the profiles file with provider = \"s3\", endpoint, region, access_key and secret_key".into(),
            ),
        });
    }
    for p in &file.policy {
        let kind = p.profile.as_ref().and_then(|name| {
            known
                .iter()
                .find(|(n, _, _)| n == name)
                .and_then(|(_, _, k)| *k)
        });
        let refuse = |key: &str, why: String, hint: Option<String>| Error::Usage {
            message: format!(
                "{}{}: policy {:?}, {key}: {why}",
                path.display(),
                line_of(text, &p.id, key)
                    .map(|l| format!(", line {l}"))
                    .unwrap_or_default(),
                p.id
            ),
            hint,
        };
        if let (None, Some(kind), Some(_)) = (p.provider, kind, &p.drill)
            && let Err(why) = drill_refusal(kind)
        {
            return Err(refuse("drill", why, None));
        }
        if let (None, Some(kind), false) = (p.provider, kind, p.copy.is_empty())
            && let Err(why) = copy_refusal(kind)
        {
            return Err(refuse("copy", why, None));
        }
        // Each copy's account: a profile of the profiles file, of a provider with the route.
        for c in &p.copy {
            match known.iter().find(|(n, _, _)| *n == c.profile) {
                None => {
                    return Err(refuse(
                        "copy",
                        format!("profile {:?}: no such profile in {source}", c.profile),
                        Some(
                            "define the destination account's profile (its region, endpoint and keys) in the profiles file"
                                .into(),
                        ),
                    ));
                }
                Some((_, _, Some(k))) if copy_refusal(*k).is_err() => {
                    return Err(refuse(
                        "copy",
                        format!(
                            "profile {:?} is a {k} profile: copies are imported by another account of the same provider",
                            c.profile
                        ),
                        None,
                    ));
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

/// `state` and `state_profile`: both or neither, a URL that parses, not with `state_dir`.
fn check_state(file: &PolicyFile) -> std::result::Result<(), String> {
    match (&file.state, &file.state_profile) {
        (None, None) if file.lease_ttl.is_some() => {
            Err("lease_ttl: given without state (local runs lock the file on this machine)".into())
        }
        (None, None) => Ok(()),
        (Some(_), None) => Err("state: name the store's profile in state_profile".into()),
        (None, Some(_)) => Err("state_profile: given without state".into()),
        (Some(url), Some(_)) => {
            crate::store::StateUrl::parse(url).map_err(|why| format!("state: {why}"))?;
            if let Some(ttl) = &file.lease_ttl {
                let secs = duration_secs(ttl).map_err(|why| format!("lease_ttl: {why}"))?;
                if !(2..=3600).contains(&secs) {
                    return Err(format!("lease_ttl: {ttl}: between 2s and 1h"));
                }
            }
            if file.state_dir.is_some() {
                return Err("state and state_dir: choose one place for the drills' state".into());
            }
            Ok(())
        }
    }
}

/// Refuse (exit 9, nothing run) a file that runs code or carries decisions (a policy file with
/// hooks, a saved plan) when someone else could have written it: the file, and every directory
/// above it, must belong to the user running snapctl or to root, and must not be writable by group
/// or others (a directory may be, if it is sticky, as `/tmp` is). sshd's StrictModes and cron
/// apply the same rules.
pub fn check_strict(path: &Path, what: &str) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let canonical = std::fs::canonicalize(path).map_err(|e| Error::Usage {
            message: format!("cannot read {what} {}: {e}", path.display()),
            hint: None,
        })?;
        let me = rustix::process::geteuid().as_raw();
        for (i, p) in canonical.ancestors().enumerate() {
            let Ok(meta) = std::fs::metadata(p) else {
                continue;
            };
            let mode = meta.permissions().mode();
            let loose = mode & 0o022 != 0 && !(i > 0 && meta.is_dir() && mode & 0o1000 != 0);
            let problem = if meta.uid() != me && meta.uid() != 0 {
                Some(format!(
                    "it belongs to uid {}, not to you (uid {me}) or root",
                    meta.uid()
                ))
            } else if loose {
                Some(format!(
                    "group or others can write to it (mode {:03o})",
                    mode & 0o777
                ))
            } else {
                None
            };
            if let Some(problem) = problem {
                let shown = if i == 0 {
                    format!("{what} {}", canonical.display())
                } else {
                    format!(
                        "{what} {}: its directory {}",
                        canonical.display(),
                        p.display()
                    )
                };
                return Err(Error::Refused {
                    reason: format!("refusing the {shown}: {problem}; nothing was run"),
                    hint: Some(format!(
                        "whoever can write it decides what snapctl runs as you: chmod go-w {} (and chown it to you or root)",
                        p.display()
                    )),
                });
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (path, what);
    Ok(())
}

/// Refuse (exit 9, nothing run) an output path (`report_file`, `metrics_file`, `state_dir`,
/// `history_dir`) another user could redirect: a symbolic link owned by someone other than you
/// or root in any component above it (or, for a directory, the directory itself), or a directory
/// above it that others can write to without the sticky bit (they could plant such a link).
/// Components that do not exist yet are skipped (they are created private).
pub fn check_output_path(path: &Path, what: &str, is_dir: bool) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|source| Error::Io {
                    action: format!("cannot resolve the {what} {}", path.display()),
                    source,
                })?
                .join(path)
        };
        let me = rustix::process::geteuid().as_raw();
        let first = if is_dir {
            Some(absolute.as_path())
        } else {
            absolute.parent()
        };
        for p in first.into_iter().flat_map(Path::ancestors) {
            let Ok(link) = std::fs::symlink_metadata(p) else {
                continue;
            };
            let problem = if link.file_type().is_symlink() && link.uid() != me && link.uid() != 0 {
                Some(format!(
                    "{} is a symbolic link owned by uid {}, not by you (uid {me}) or root",
                    p.display(),
                    link.uid()
                ))
            } else {
                std::fs::metadata(p).ok().and_then(|meta| {
                    let mode = meta.permissions().mode();
                    (meta.is_dir() && mode & 0o002 != 0 && mode & 0o1000 == 0).then(|| {
                        format!(
                            "others can write to {} (mode {:03o}) and it is not sticky",
                            p.display(),
                            mode & 0o777
                        )
                    })
                })
            };
            if let Some(problem) = problem {
                return Err(Error::Refused {
                    reason: format!(
                        "refusing the {what} {}: {problem}; nothing was run",
                        path.display()
                    ),
                    hint: Some(
                        "another user could redirect what snapctl writes there: point it at a directory only you (or root) control".into(),
                    ),
                });
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (path, what, is_dir);
    Ok(())
}

/// [`load`] on text already read.
pub fn check(path: &Path, text: &str) -> Result<Checked> {
    let shown = path.display().to_string();
    let file: PolicyFile = toml::from_str(text).map_err(|e| Error::Usage {
        message: format!(
            "{shown}{}: {}",
            e.span()
                .map(|span| {
                    let before = &text[..span.start.min(text.len())];
                    format!(", line {}", before.matches('\n').count() + 1)
                })
                .unwrap_or_default(),
            e.message()
        ),
        hint: Some("see docs/fleet.md for the policy keys".into()),
    })?;
    let fail = |id: &str, key: &str, why: String| Error::Usage {
        message: format!(
            "{shown}{}: policy {id:?}, {key}: {why}",
            line_of(text, id, key)
                .map(|l| format!(", line {l}"))
                .unwrap_or_default()
        ),
        hint: None,
    };
    if file.policy.is_empty() {
        return Err(Error::usage(format!("{shown}: no [[policy]] in the file")));
    }
    if let Some(url) = &file.metrics_push_url {
        super::push::push_target(url, "check").map_err(|e| Error::Usage {
            message: format!("{shown}: metrics_push_url: {e}"),
            hint: Some("the gateway's base URL, e.g. http://pushgateway.monitoring:9091".into()),
        })?;
    }
    check_state(&file).map_err(|why| Error::Usage {
        message: format!("{shown}: {why}"),
        hint: Some(
            "state = \"s3://BUCKET/PREFIX\" with state_profile naming a provider = \"s3\" profile (docs/fleet.md)".into(),
        ),
    })?;
    let history_keep = cadence(file.history_keep.as_deref().unwrap_or(DEFAULT_HISTORY_KEEP))
        .map_err(|why| Error::Usage {
            message: format!("{shown}: history_keep: {why}"),
            hint: Some("a duration such as 400d".into()),
        })?;
    if let Some(tz) = &file.timezone {
        jiff::tz::TimeZone::get(tz).map_err(|e| Error::Usage {
            message: format!("{shown}: timezone {tz:?}: {e}"),
            hint: Some("use an IANA zone such as Europe/Paris".into()),
        })?;
    }
    let mut seen = BTreeSet::new();
    let mut every_secs = Vec::new();
    let mut alerts = Vec::new();
    let mut hook_timeouts = Vec::new();
    let mut expect = Vec::new();
    let mut drills = Vec::new();
    for p in &file.policy {
        let id = p.id.as_str();
        let at = |(key, why): Refusal| fail(id, key, why);
        check_id(id).map_err(at)?;
        if !seen.insert(id) {
            return Err(fail(id, "id", "two policies have this id".into()));
        }
        if p.provider.is_none() && p.profile.is_none() {
            return Err(fail(
                id,
                "provider",
                "give provider, profile, or both".into(),
            ));
        }
        every_secs.push(check_cadence(p).map_err(at)?);
        expect.push(
            p.expect_volumes
                .as_deref()
                .map(range)
                .transpose()
                .map_err(|why| fail(id, "expect_volumes", why))?,
        );
        alerts.push(check_alert(p).map_err(at)?);
        hook_timeouts.push(check_hooks(p).map_err(at)?);
        check_selection(p).map_err(at)?;
        check_keep(&p.keep).map_err(at)?;
        drills.push(check_drill(p).map_err(at)?);
        check_copies(p).map_err(at)?;
    }
    Ok(Checked {
        file,
        every_secs,
        alerts,
        hook_timeouts,
        expect,
        drills,
        history_keep,
        sha256: {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(text.as_bytes()))
        },
    })
}

/// What is wrong with one key of a policy: the key and why.
type Refusal = (&'static str, String);

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
metrics_file = "/var/lib/node_exporter/textfile/snapctl.prom"
report_file = "/var/lib/snapctl/last-run.json"

[[policy]]
id = "db-gold"
provider = "outscale"
every = "1h"
expect_volumes = "1..20"
select = { ids = ["vol-0a1b2c3d"], names = ["appdata"], name_regex = "^db-", tags = { backup = "gold" } }
exclude = { names = ["scratch"] }
keep = { last = 3, daily = 7, weekly = 4, min = 2 }

[[policy]]
id = "shares"
profile = "prod-efs"
cron = "0 */6 * * *"
select = { name_regex = "^app" }
keep = { within = "1mo", daily = 7 }
"#;

    #[test]
    fn the_issue_contract_parses() {
        let c = check(Path::new("fleet.toml"), GOOD).expect("valid");
        assert_eq!(c.file.policy.len(), 2);
        assert_eq!(c.every_secs, vec![Some(3600), None]);
        assert_eq!(
            range("1..20"),
            Ok(Range {
                min: 1,
                max: Some(20)
            })
        );
        assert_eq!(range("3.."), Ok(Range { min: 3, max: None }));
    }

    #[test]
    fn keeps_that_keep_nothing_and_other_trial_mistakes_are_refused() {
        let refused = |from: &str, to: &str, want: &str| {
            let bad = GOOD.replacen(from, to, 1);
            assert_ne!(bad, GOOD, "{from}");
            let e = check(Path::new("f"), &bad).unwrap_err();
            assert_eq!(e.exit_code(), crate::error::Exit::Usage);
            assert!(e.to_string().contains(want), "{to}: {e}");
        };
        refused(
            "keep = { last = 3, daily = 7, weekly = 4, min = 2 }",
            "keep = { last = 0 }",
            "keep nothing",
        );
        refused(
            "keep = { within = \"1mo\", daily = 7 }",
            "keep = { within = \"0d\" }",
            "keeps nothing",
        );
        // Both readings of a bare m are named, for hook_timeout as for every.
        refused(
            "every = \"1h\"",
            "every = \"1h\"\nhook_timeout = \"2m\"",
            "hook_timeout: \"2m\" is ambiguous",
        );
        refused("every = \"1h\"", "every = \"1h\"\nforce = true", "force");
        refused(
            "select = { name_regex = \"^app\" }",
            "select = { all = true, name_regex = \"^app\" }",
            "all = true selects every volume",
        );
        refused(
            "select = { name_regex = \"^app\" }",
            "select = { all = false }",
            "all = true for every volume",
        );
        refused(
            "exclude = { names = [\"scratch\"] }",
            "exclude = { all = true }",
            "leave nothing",
        );
        // What is allowed: every volume, and force on PowerVC.
        let all = GOOD.replace(
            "select = { name_regex = \"^app\" }",
            "select = { all = true }",
        );
        assert!(check(Path::new("f"), &all).is_ok());
        let forced = GOOD.replace(
            "provider = \"outscale\"",
            "provider = \"powervc\"\nforce = true",
        );
        assert!(check(Path::new("f"), &forced).expect("valid").file.policy[0].force);
        let last0 = GOOD.replace("keep = { last = 3, daily", "keep = { last = 0, daily");
        assert!(check(Path::new("f"), &last0).is_ok(), "daily still keeps");
    }

    #[test]
    fn cadences_that_never_fire_or_overflow_are_refused() {
        let bad = GOOD.replace("cron = \"0 */6 * * *\"", "cron = \"0 0 30 2 *\"");
        let e = check(Path::new("fleet.toml"), &bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 17: policy \"shares\", cron"), "{e}");
        assert!(e.contains("never fires"), "{e}");
        for every in ["2562047788015215h", "11y", "3661d"] {
            let bad = GOOD.replace("every = \"1h\"", &format!("every = \"{every}\""));
            let e = check(Path::new("f"), &bad).unwrap_err().to_string();
            assert!(e.contains("every"), "{every}: {e}");
        }
        let leap = GOOD.replace("cron = \"0 */6 * * *\"", "cron = \"0 0 29 2 *\"");
        assert!(check(Path::new("f"), &leap).is_ok(), "February 29th fires");
    }

    #[test]
    fn mistakes_name_the_line_and_the_key() {
        let bad = GOOD.replace("every = \"1h\"", "every = \"90m\"");
        let e = check(Path::new("fleet.toml"), &bad)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("fleet.toml, line 8: policy \"db-gold\", every"),
            "{e}"
        );
        assert!(e.contains("90min or 90mo"), "{e}");
        let bad = GOOD.replace("id = \"shares\"", "id = \"db-gold\"");
        assert!(
            check(Path::new("f"), &bad)
                .unwrap_err()
                .to_string()
                .contains("two policies")
        );
        let bad = GOOD.replace("expect_volumes = \"1..20\"", "expect_volumes = \"20..1\"");
        assert!(
            check(Path::new("f"), &bad)
                .unwrap_err()
                .to_string()
                .contains("expect_volumes")
        );
        let bad = GOOD.replace(
            "keep = { within = \"1mo\", daily = 7 }",
            "keep = { within = \"1m\" }",
        );
        assert!(
            check(Path::new("f"), &bad)
                .unwrap_err()
                .to_string()
                .contains("bare m")
        );
        let bad = GOOD.replace("name_regex = \"^app\"", "name_regex = \"(\"");
        assert!(
            check(Path::new("f"), &bad)
                .unwrap_err()
                .to_string()
                .contains("name_regex")
        );
        let bad = GOOD.replace(
            "keep = { last = 3, daily = 7, weekly = 4, min = 2 }",
            "keep = { last = 3 }\nalert = { warn = \"3h\", crit = \"2h\" }",
        );
        assert!(
            check(Path::new("f"), &bad)
                .unwrap_err()
                .to_string()
                .contains("warn is above crit")
        );
        let bad = GOOD.replace("keep = { within", "pre = \"  \"\nkeep = { within");
        assert!(
            check(Path::new("f"), &bad)
                .unwrap_err()
                .to_string()
                .contains("pre: an empty command")
        );
        let bad = GOOD.replace("every = \"1h\"", "every = \"1h\"\ncolour = \"red\"");
        let e = check(Path::new("f"), &bad).unwrap_err().to_string();
        assert!(e.contains("line 9") && e.contains("colour"), "{e}");
    }
}
