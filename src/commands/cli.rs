//! The clap command tree: global flags and commands, shared by every provider.
//!
//! Parsing only: no I/O and no provider knowledge here. `commands` turns a parsed [`Cli`] into calls.
//!
//! The doc comments here are the help texts `--help` and the man pages print, where `<name>` is
//! the usual placeholder: rustdoc is told it is not HTML.
#![allow(rustdoc::invalid_html_tags)]

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::config::{GlobalOpts, parse_duration};
use crate::engine::retention::CalendarSpan;
use crate::kind::ProviderKind;
use crate::output::Format;

pub use super::clone::{CloneArgs, RevertArgs};
pub use super::emulator::EmulatorArgs;
pub use super::policy::args::*;
pub use super::rotate::{CheckArgs, RotateArgs};
pub use super::schedule::{ScheduleAddArgs, ScheduleCmd};
pub use super::snapshot::{ShareArgs, SnapshotCmd};

/// Take, list, clone and revert point-in-time snapshots of storage volumes on OVHcloud Enterprise
/// File Storage, OVHcloud NAS-HA, 3DS OUTSCALE and IBM PowerVC.
#[derive(Debug, Parser)]
#[command(name = "snapctl", version, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 ok, 1 failure, 2 usage, 3 unsupported, 4 not found, \
5 auth/config, 6 partial, 7 timeout, 8 locked, 9 refused for safety."
)]
pub struct Cli {
    /// Global options.
    #[command(flatten)]
    pub global: Global,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options accepted before or after any command (listed under their own heading in every
/// `--help`, apart from the command's own options).
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Provider to talk to.
    #[arg(short = 'p', long, global = true, env = "SNAPCTL_PROVIDER", value_enum)]
    pub provider: Option<ProviderKind>,

    /// Profile from the config file.
    #[arg(long, global = true, env = "SNAPCTL_PROFILE", value_name = "NAME",
        add = clap_complete::engine::ArgValueCompleter::new(complete_profile))]
    pub profile: Option<String>,

    /// Config file [default: $XDG_CONFIG_HOME/snapctl/config.toml].
    #[arg(long, global = true, env = "SNAPCTL_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Output format; data goes to stdout, everything else to stderr.
    #[arg(short = 'o', long, global = true, value_enum, default_value = "table")]
    pub output: Format,

    /// API base URL the documented route paths are appended to (OVH: also a name such as ovh-eu).
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,

    /// Service name (EFS: the service UUID; NAS-HA: zpool-…).
    #[arg(long, global = true, env = "SNAPCTL_SERVICE", value_name = "NAME")]
    pub service: Option<String>,

    /// Region.
    #[arg(long, global = true)]
    pub region: Option<String>,

    /// How long --wait waits (e.g. 90s, 10m, 1h) [default: 30m].
    #[arg(long, global = true, value_parser = duration, allow_hyphen_values = true, value_name = "DURATION")]
    pub timeout: Option<Duration>,

    /// How long one HTTP request may take, retries aside [default: 60s].
    #[arg(long, global = true, env = "SNAPCTL_REQUEST_TIMEOUT", value_parser = duration, allow_hyphen_values = true, value_name = "DURATION")]
    pub request_timeout: Option<Duration>,

    /// First retry backoff step; it doubles per attempt, with jitter, up to 10s [default: 300ms].
    #[arg(long, global = true, env = "SNAPCTL_RETRY_DELAY", value_parser = duration, allow_hyphen_values = true, value_name = "DURATION", hide_short_help = true)]
    pub retry_delay: Option<Duration>,

    /// Longest pause between two polls while waiting (pauses start at 25ms and grow to it).
    #[arg(long, global = true, value_parser = duration, allow_hyphen_values = true, default_value = "5s", value_name = "DURATION")]
    pub poll_interval: Duration,

    /// Trace requests on stderr (-v: one line each; -vv: headers and bodies, credentials redacted).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    /// Print nothing on stderr but errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Client-side request rate limit, shared by concurrent work [default: ovh 1/s (burst 5),
    /// outscale 5/s, powervc none; 0 = none].
    #[arg(long, global = true, env = "SNAPCTL_MAX_RPS", value_name = "N", value_parser = rate, allow_negative_numbers = true)]
    pub max_rps: Option<f64>,

    /// Trust this CA certificate (PEM) too, e.g. PowerVC's /etc/pki/tls/certs/powervc.crt.
    #[arg(long, global = true, value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    /// Skip TLS certificate verification (warned on every run; lab setups only).
    #[arg(long, global = true)]
    pub insecure: bool,

    /// Filter the JSON output with a jq expression, in-process (implies -o json; strings print
    /// raw, one per line, like jq -r), e.g. --jq '.[] | select(.state == "error") | .id'.
    #[arg(long, global = true, value_name = "EXPR")]
    pub jq: Option<String>,

    /// Colour states and warnings: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto", value_parser = ["auto", "always", "never"])]
    pub color: String,

    /// Leave out the header line of tables and -o tsv.
    #[arg(long, global = true)]
    pub no_headers: bool,

    /// Allow plain http:// endpoints that are not loopback (credentials travel unencrypted;
    /// warned on every run).
    #[arg(long, global = true)]
    pub allow_http: bool,

    /// Largest API response read (e.g. 64M, 1G) [default: 16M].
    #[arg(long, global = true, env = "SNAPCTL_MAX_RESPONSE_SIZE", value_parser = size, value_name = "SIZE", allow_hyphen_values = true)]
    pub max_response_size: Option<u64>,

    /// Volume service URL, overriding the one in the token's catalog (PowerVC).
    #[arg(long, global = true, value_name = "URL")]
    pub volume_endpoint: Option<String>,

    /// Change nothing: say what would happen (OUTSCALE also asks the API with DryRun; rotate prints
    /// its plan).
    #[arg(long, global = true)]
    pub dry_run: bool,
}

/// Dynamic completion of `--profile`: the names in the config file (read locally, no request).
pub(crate) fn complete_profile(
    current: &std::ffi::OsStr,
) -> Vec<clap_complete::engine::CompletionCandidate> {
    let prefix = current.to_string_lossy();
    crate::config::profile_names(&crate::config::Env::capture())
        .into_iter()
        .filter(|n| n.starts_with(prefix.as_ref()))
        .map(clap_complete::engine::CompletionCandidate::new)
        .collect()
}

pub(crate) fn duration(s: &str) -> Result<Duration, String> {
    parse_duration(s)
}

/// A `--keep-*` count: a number, or restic's `-1` for "every bucket".
pub fn keep_count(s: &str) -> Result<usize, String> {
    match s.trim() {
        "-1" => Ok(crate::engine::retention::UNLIMITED),
        t => t
            .parse::<usize>()
            .map_err(|_| format!("expected a count, or -1 for unlimited, got {s:?}")),
    }
}

/// A whole number of 0 or more; a negative one is named as such (clap would otherwise read `-3`
/// as an unknown flag).
pub(crate) fn count<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    let t = s.trim();
    if t.starts_with('-') {
        return Err(format!(
            "cannot be negative (got {t}); expected a whole number of 0 or more"
        ));
    }
    t.parse::<T>()
        .map_err(|_| format!("expected a whole number of 0 or more, got {s:?}"))
}

/// A whole number of 1 or more.
pub(crate) fn positive<T: std::str::FromStr + PartialEq + From<u8>>(s: &str) -> Result<T, String> {
    let t = s.trim();
    let n: T = count(t).map_err(|e| e.replace("of 0 or more", "of 1 or more"))?;
    if n == T::from(0) {
        return Err("must be at least 1".into());
    }
    Ok(n)
}

/// A rate: a number of 0 or more (0 turns the limit off).
pub(crate) fn rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r >= 0.0 => Ok(r),
        Ok(r) if r < 0.0 => Err(format!(
            "cannot be negative (got {r}); expected requests per second, or 0 for no limit"
        )),
        _ => Err(format!(
            "expected requests per second (e.g. 5 or 0.5), or 0 for no limit, got {s:?}"
        )),
    }
}

/// A share between 0 and 1.
pub(crate) fn fraction(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("expected a share between 0.0 and 1.0, got {s:?}")),
    }
}

pub(crate) fn span(s: &str) -> Result<CalendarSpan, String> {
    CalendarSpan::parse(s)
}

pub(crate) fn size(s: &str) -> Result<u64, String> {
    crate::text::parse_size(s)
}

impl Global {
    /// The options configuration resolution needs.
    pub fn opts(&self) -> GlobalOpts {
        GlobalOpts {
            provider: self.provider,
            profile: self.profile.clone(),
            config: self.config.clone(),
            endpoint: self.endpoint.clone(),
            service: self.service.clone(),
            region: self.region.clone(),
            timeout: self.timeout,
            poll_interval: Some(self.poll_interval),
            cacert: self.cacert.clone(),
            insecure: self.insecure,
            volume_endpoint: self.volume_endpoint.clone(),
            loopback_only: false,
        }
    }
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show which operations each provider offers.
    Providers,
    /// Walk snapshot → clone → rotate on every provider against a built-in emulator (no account needed).
    Demo,
    /// Serve a local, stateful emulator of all four APIs and print the environment pointing at it.
    Emulator(EmulatorArgs),
    /// Print a shell completion script (e.g. `snapctl completions bash > /etc/bash_completion.d/snapctl`).
    Completions {
        /// Shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Snapshot policies as code across clouds (fleet mode): validate, plan, apply, check, orphans, adopt.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Print the man page (roff), or write one page per command into --dir
    /// (e.g. `snapctl man --dir ~/.local/share/man/man1`).
    Man {
        /// Write snapctl.1 and snapctl-<command>.1 pages here instead of printing snapctl.1.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// The commands that talk to one provider's account.
    #[command(flatten)]
    Cloud(CloudCmd),
}

/// The commands that talk to one provider's account: each is checked, connected and
/// dispatched by `commands`, the others run without a provider.
#[derive(Debug, Subcommand)]
pub enum CloudCmd {
    /// List or show volumes (EFS shares, NAS-HA partitions, block volumes).
    #[command(subcommand)]
    Volume(VolumeCmd),
    /// List, show, create or delete snapshots.
    #[command(subcommand)]
    Snapshot(SnapshotCmd),
    /// Make a new volume from a snapshot (or from a fresh snapshot of --volume).
    Clone(CloneArgs),
    /// Revert a volume in place to a snapshot (destructive).
    Revert(RevertArgs),
    /// Copy a snapshot (OUTSCALE: within the account's region).
    Copy {
        /// Snapshot to copy.
        #[arg(long)]
        snapshot: String,
        /// Region the snapshot lives in [default: the configured region].
        #[arg(long)]
        source_region: Option<String>,
        /// Description of the copy.
        #[arg(long)]
        description: Option<String>,
        /// Name of the copy [default: the source snapshot's name].
        #[arg(long)]
        name: Option<String>,
        /// Wait until the copy is usable.
        #[arg(long)]
        wait: bool,
    },
    /// Apply a retention policy: optionally take a snapshot, then delete what the policy does not keep.
    Rotate(Box<RotateArgs>),
    /// Monitoring plugin: is the newest snapshot fresh enough? (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)
    Check(CheckArgs),
    /// List, add or remove provider-side snapshot schedules.
    #[command(subcommand)]
    Schedule(ScheduleCmd),
    /// Wait for a provider task started earlier (NAS-HA).
    Wait {
        /// Task id, as printed by the command that started it.
        #[arg(long)]
        task: String,
    },
}

/// `volume …`
#[derive(Debug, Subcommand)]
pub enum VolumeCmd {
    /// List volumes.
    List {
        /// What to print.
        #[command(flatten)]
        select: SelectArgs,
    },
    /// Show one volume.
    Show {
        /// Volume id.
        id: String,
    },
}

/// Selecting what a list prints.
#[derive(Debug, Args, Default, Clone)]
pub struct SelectArgs {
    /// Keep only items where KEY matches (repeatable; all must match): name=GLOB (* and ?),
    /// state=available,error (either); snapshots: kind=manual, volume=ID; volumes:
    /// tag.KEY=VALUE.
    #[arg(long = "filter", value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// Keep only items created longer ago than this (e.g. 30d).
    #[arg(long, value_parser = duration, allow_hyphen_values = true, value_name = "DURATION")]
    pub older_than: Option<Duration>,
    /// Keep only items created less long ago than this (e.g. 12h).
    #[arg(long, value_parser = duration, allow_hyphen_values = true, value_name = "DURATION")]
    pub newer_than: Option<Duration>,
    /// Order by created, name, id, state, and kind or volume (snapshots) or size (volumes); a
    /// leading - reverses (-created: newest first).
    #[arg(long, value_name = "FIELD", allow_hyphen_values = true)]
    pub sort: Option<String>,
    /// Print at most N.
    #[arg(long, value_name = "N", value_parser = count::<usize>, allow_negative_numbers = true)]
    pub limit: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_tree_is_consistent() {
        Cli::command().debug_assert();
    }
}
