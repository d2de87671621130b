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
use crate::kind::ProviderKind;
use crate::output::Format;
use crate::rotation::plan::CalendarSpan;

mod policy;
pub use policy::*;

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
fn complete_profile(current: &std::ffi::OsStr) -> Vec<clap_complete::engine::CompletionCandidate> {
    let prefix = current.to_string_lossy();
    crate::config::profile_names(&crate::config::Env::capture())
        .into_iter()
        .filter(|n| n.starts_with(prefix.as_ref()))
        .map(clap_complete::engine::CompletionCandidate::new)
        .collect()
}

fn duration(s: &str) -> Result<Duration, String> {
    parse_duration(s)
}

/// A `--keep-*` count: a number, or restic's `-1` for "every bucket".
pub fn keep_count(s: &str) -> Result<usize, String> {
    match s.trim() {
        "-1" => Ok(crate::rotation::plan::UNLIMITED),
        t => t
            .parse::<usize>()
            .map_err(|_| format!("expected a count, or -1 for unlimited, got {s:?}")),
    }
}

/// A whole number of 0 or more; a negative one is named as such (clap would otherwise read `-3`
/// as an unknown flag).
fn count<T: std::str::FromStr>(s: &str) -> Result<T, String> {
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
fn positive<T: std::str::FromStr + PartialEq + From<u8>>(s: &str) -> Result<T, String> {
    let t = s.trim();
    let n: T = count(t).map_err(|e| e.replace("of 0 or more", "of 1 or more"))?;
    if n == T::from(0) {
        return Err("must be at least 1".into());
    }
    Ok(n)
}

/// A rate: a number of 0 or more (0 turns the limit off).
fn rate(s: &str) -> Result<f64, String> {
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
fn fraction(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("expected a share between 0.0 and 1.0, got {s:?}")),
    }
}

fn span(s: &str) -> Result<CalendarSpan, String> {
    CalendarSpan::parse(s)
}

fn size(s: &str) -> Result<u64, String> {
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

/// `schedule …`
#[derive(Debug, Subcommand)]
pub enum ScheduleCmd {
    /// List the schedules of a volume.
    List {
        /// Volume id.
        #[arg(long)]
        volume: String,
        /// Also the service's other policies (EFS).
        #[arg(long)]
        all: bool,
        /// What to print (name and state filters, sort by name, id or state).
        #[command(flatten)]
        select: SelectArgs,
    },
    /// Enable a schedule (NAS-HA: a frequency; EFS: a snapshot policy attached to the share).
    Add(ScheduleAddArgs),
    /// Disable a schedule (NAS-HA: a frequency; EFS: attach the default policy instead).
    Remove {
        /// Volume id.
        #[arg(long)]
        volume: String,
        /// Frequency to disable (NAS-HA).
        #[arg(long)]
        every: Option<String>,
        /// Policy to attach instead of the service's default (EFS).
        #[arg(long, value_name = "POLICY_ID")]
        to: Option<String>,
        /// Wait until the change is applied.
        #[arg(long)]
        wait: bool,
    },
}

/// `schedule add …`
#[derive(Debug, Args)]
pub struct ScheduleAddArgs {
    /// Volume id.
    #[arg(long)]
    pub volume: String,
    /// NAS-HA: hour-1, hour-6, day-1, day-2, day-3, day-7. EFS shorthand: hour, day, week.
    #[arg(long)]
    pub every: Option<String>,
    /// Time for the EFS shorthand: HH:MM (or :MM hourly); weekly means Sundays.
    #[arg(long, value_name = "HH:MM")]
    pub at: Option<String>,
    /// EFS: name prefix of the snapshots the rule takes.
    #[arg(long, requires = "keep")]
    pub prefix: Option<String>,
    /// EFS: how many of them the rule keeps.
    #[arg(long, value_name = "N", requires = "prefix", value_parser = count::<u32>, allow_negative_numbers = true)]
    pub keep: Option<u32>,
    /// EFS: when, as 'MIN HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK' (e.g. '30 2 * * *').
    #[arg(long, requires = "prefix", conflicts_with = "every")]
    pub cron: Option<String>,
    /// EFS: a whole rule 'PREFIX:KEEP:CRON' (repeatable, 4 rules at most per policy).
    #[arg(long = "rule", value_name = "PREFIX:KEEP:CRON")]
    pub rules: Vec<String>,
    /// EFS: policy name [default: snapctl-<share>-<UTC time>].
    #[arg(long)]
    pub name: Option<String>,
    /// Wait until the change is applied.
    #[arg(long)]
    pub wait: bool,
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

/// `snapshot …`
#[derive(Debug, Subcommand)]
pub enum SnapshotCmd {
    /// List snapshots of a volume (of every volume without --volume).
    List {
        /// Volume id.
        #[arg(long)]
        volume: Option<String>,
        /// What to print.
        #[command(flatten)]
        select: SelectArgs,
    },
    /// Show one snapshot.
    Show {
        /// Snapshot id.
        id: String,
        /// Its volume.
        #[arg(long)]
        volume: Option<String>,
    },
    /// Take a snapshot.
    Create {
        /// Volume to snapshot.
        #[arg(long)]
        volume: String,
        /// Snapshot name.
        #[arg(long)]
        name: Option<String>,
        /// Snapshot description.
        #[arg(long)]
        description: Option<String>,
        /// Let the provider delete it by itself at this date (2026-12-31, RFC 3339) or after this
        /// long (7d) (NAS-HA).
        #[arg(long, value_name = "DATE|DURATION")]
        expires: Option<String>,
        /// Tag KEY=VALUE (repeatable; OUTSCALE tags, PowerVC metadata).
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
        /// Snapshot an attached (in-use) volume anyway, crash-consistent (PowerVC).
        #[arg(long)]
        force: bool,
        /// Wait until the snapshot is available.
        #[arg(long)]
        wait: bool,
    },
    /// Delete snapshots.
    Delete {
        /// Snapshot ids; `-` reads them from stdin, one per line, as `-o ids` or `-o tsv` print
        /// them (ID, or ID<TAB>VOLUME…: the volume of each line wins over --volume).
        #[arg(required = true)]
        ids: Vec<String>,
        /// Their volume.
        #[arg(long)]
        volume: Option<String>,
        /// Wait until each snapshot is gone.
        #[arg(long)]
        wait: bool,
    },
    /// Turn an automatic (policy) snapshot into a manual one; prints it under its new id (EFS).
    Hold {
        /// Snapshot id.
        id: String,
        /// Its volume.
        #[arg(long)]
        volume: Option<String>,
    },
    /// Rename or redescribe a snapshot (EFS, PowerVC; OUTSCALE: the name only).
    Update {
        /// Snapshot id.
        id: String,
        /// Its volume.
        #[arg(long)]
        volume: Option<String>,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// New description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Let other accounts (or everyone) create volumes from a snapshot (OUTSCALE).
    Share(ShareArgs),
    /// Take back what `snapshot share` gave (OUTSCALE).
    Unshare(ShareArgs),
    /// Export a snapshot to an object-storage bucket (OUTSCALE).
    Export {
        /// Snapshot id.
        id: String,
        /// Destination bucket (yours).
        #[arg(long)]
        bucket: String,
        /// Object key prefix.
        #[arg(long)]
        prefix: Option<String>,
        /// Image format.
        #[arg(long, default_value = "qcow2", value_parser = ["qcow2", "raw"])]
        format: String,
        /// Wait until the export is complete.
        #[arg(long)]
        wait: bool,
    },
    /// Create a snapshot from an exported image (OUTSCALE).
    Import {
        /// Pre-signed URL of the image.
        #[arg(long)]
        file_location: String,
        /// Image size in bytes (at least the original volume's).
        #[arg(long, value_name = "BYTES", value_parser = count::<u64>, allow_negative_numbers = true)]
        size: u64,
        /// Name (the Name tag).
        #[arg(long)]
        name: Option<String>,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// Wait until the snapshot is completed.
        #[arg(long)]
        wait: bool,
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

/// `snapshot share|unshare`
#[derive(Debug, Args)]
pub struct ShareArgs {
    /// Snapshot id.
    pub id: String,
    /// Account id (repeatable).
    #[arg(
        long = "account",
        value_name = "ID",
        required_unless_present = "public"
    )]
    pub accounts: Vec<String>,
    /// Everyone (share) / no longer everyone (unshare).
    #[arg(long)]
    pub public: bool,
    /// Confirm `share --public`: anyone can then make a volume from the snapshot's data.
    #[arg(long)]
    pub yes: bool,
}

/// `emulator …`
#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Address to listen on (loopback only unless --allow-remote).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Allow a non-loopback --listen address: the emulator accepts public demo credentials and
    /// serves an unauthenticated clock, so anyone who can reach it can use it.
    #[arg(long)]
    pub allow_remote: bool,
    /// How long transitions take (creating → available, tasks, clones).
    #[arg(long, value_parser = duration, allow_hyphen_values = true, default_value = "300ms", value_name = "DURATION")]
    pub delay: Duration,
    /// Share of requests answered with a server error (0.0-1.0).
    #[arg(long, default_value = "0", value_parser = fraction, allow_negative_numbers = true)]
    pub fail_rate: f64,
    /// Added to every answer.
    #[arg(long, value_parser = duration, allow_hyphen_values = true, default_value = "0s", value_name = "DURATION")]
    pub latency: Duration,
    /// Requests per second before answering 429 (413 on PowerVC) with Retry-After.
    #[arg(long, value_name = "N", value_parser = positive::<u32>, allow_negative_numbers = true)]
    pub throttle: Option<u32>,
    /// Seed N extra `snapctl-<time>` snapshots (hourly, going back from now) on the first EFS share,
    /// OUTSCALE volume and PowerVC volume, for benchmarks.
    #[arg(long, value_name = "N", default_value = "0", value_parser = count::<usize>, allow_negative_numbers = true)]
    pub bulk: usize,
    /// Seed N extra volumes per provider (`fleet-0001`…, tagged `fleet=yes` on OUTSCALE and
    /// PowerVC), for fleet-mode scale tests.
    #[arg(long, value_name = "N", default_value = "0", value_parser = count::<usize>, allow_negative_numbers = true)]
    pub volumes: usize,
    /// Seed for fault injection and generated ids.
    #[arg(long, default_value = "1", value_parser = count::<u64>, allow_negative_numbers = true)]
    pub seed: u64,
    /// Append every answer of the emulated APIs to FILE, one JSON object a line
    /// ({"method","path","status","body"}), to check them against the providers' specs.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
}

/// `clone …`
#[derive(Debug, Args)]
pub struct CloneArgs {
    /// Volume the snapshot belongs to; without --snapshot, the volume(s) to clone as they are now
    /// (PowerVC: repeat for one consistent copy of several volumes).
    #[arg(
        long = "volume",
        value_name = "ID",
        required_unless_present = "snapshot"
    )]
    pub volumes: Vec<String>,
    /// Snapshot to clone.
    #[arg(long)]
    pub snapshot: Option<String>,
    /// Where to create the volume (OUTSCALE subregion, e.g. eu-west-2a) [default: the source's].
    #[arg(long)]
    pub subregion: Option<String>,
    /// Volume type (OUTSCALE: standard, gp2, io1; PowerVC: a volume type name or id).
    #[arg(long)]
    pub volume_type: Option<String>,
    /// Provisioned IOPS (OUTSCALE io1).
    #[arg(long, value_parser = positive::<u32>, allow_negative_numbers = true)]
    pub iops: Option<u32>,
    /// Name of the new volume.
    #[arg(long)]
    pub name: Option<String>,
    /// Description of the new volume.
    #[arg(long)]
    pub description: Option<String>,
    /// Size of the new volume in GiB [default: the parent volume's].
    #[arg(long, value_name = "GIB", value_parser = positive::<u64>, allow_negative_numbers = true)]
    pub size: Option<u64>,
    /// Wait until the new volume is available.
    #[arg(long)]
    pub wait: bool,
}

/// `revert …`
#[derive(Debug, Args)]
pub struct RevertArgs {
    /// Volume to revert.
    #[arg(long)]
    pub volume: String,
    /// Snapshot to revert to.
    #[arg(long)]
    pub snapshot: String,
    /// Confirm: data written since the snapshot is lost.
    #[arg(long)]
    pub yes: bool,
    /// Wait until the volume is available again.
    #[arg(long)]
    pub wait: bool,
}

/// `rotate …`; unset options fall back to the profile's `[profiles.NAME.rotate]` table.
#[derive(Debug, Args, Default)]
pub struct RotateArgs {
    /// Volume to rotate (repeatable).
    #[arg(long = "volume", value_name = "ID")]
    pub volumes: Vec<String>,
    /// Rotate every volume of the service/account.
    #[arg(long)]
    pub all_volumes: bool,
    /// Take a snapshot named <prefix><UTC YYYYMMDDTHHMMSSZ> first.
    #[arg(long)]
    pub create: bool,
    /// Only manual snapshots whose name starts with this are candidates [default: snapctl-].
    #[arg(long)]
    pub prefix: Option<String>,
    /// Allow an empty --prefix (every manual snapshot becomes a candidate).
    #[arg(long)]
    pub all_names: bool,
    /// Keep the N newest.
    #[arg(long, value_name = "N", value_parser = keep_count, allow_negative_numbers = true)]
    pub keep_last: Option<usize>,
    /// Keep the newest of each of the N most recent hours.
    #[arg(long, value_name = "N", value_parser = keep_count, allow_negative_numbers = true)]
    pub keep_hourly: Option<usize>,
    /// Keep the newest of each of the N most recent days.
    #[arg(long, value_name = "N", value_parser = keep_count, allow_negative_numbers = true)]
    pub keep_daily: Option<usize>,
    /// Keep the newest of each of the N most recent ISO weeks.
    #[arg(long, value_name = "N", value_parser = keep_count, allow_negative_numbers = true)]
    pub keep_weekly: Option<usize>,
    /// Keep the newest of each of the N most recent months.
    #[arg(long, value_name = "N", value_parser = keep_count, allow_negative_numbers = true)]
    pub keep_monthly: Option<usize>,
    /// Keep the newest of each of the N most recent years.
    #[arg(long, value_name = "N", value_parser = keep_count, allow_negative_numbers = true)]
    pub keep_yearly: Option<usize>,
    /// Keep everything younger than this, measured from the newest snapshot. restic's grammar:
    /// 1y2m3d4h, where m is MONTHS (there are no minutes): 1m is one month.
    #[arg(long, value_parser = span, value_name = "SPAN")]
    pub keep_within: Option<CalendarSpan>,
    /// Keep the newest of each hour within SPAN of the newest snapshot (restic's grammar).
    #[arg(long, value_parser = span, value_name = "SPAN")]
    pub keep_within_hourly: Option<CalendarSpan>,
    /// Keep the newest of each day within SPAN of the newest snapshot.
    #[arg(long, value_parser = span, value_name = "SPAN")]
    pub keep_within_daily: Option<CalendarSpan>,
    /// Keep the newest of each ISO week within SPAN of the newest snapshot.
    #[arg(long, value_parser = span, value_name = "SPAN")]
    pub keep_within_weekly: Option<CalendarSpan>,
    /// Keep the newest of each month within SPAN of the newest snapshot.
    #[arg(long, value_parser = span, value_name = "SPAN")]
    pub keep_within_monthly: Option<CalendarSpan>,
    /// Keep the newest of each year within SPAN of the newest snapshot.
    #[arg(long, value_parser = span, value_name = "SPAN")]
    pub keep_within_yearly: Option<CalendarSpan>,
    /// Refuse (exit 9) when the plan would delete more than this [default: 50].
    #[arg(long, value_name = "N", value_parser = count::<usize>, allow_negative_numbers = true)]
    pub max_delete: Option<usize>,
    /// Volumes processed at once [default: 4].
    #[arg(long, value_name = "N", value_parser = positive::<usize>, allow_negative_numbers = true)]
    pub concurrency: Option<usize>,
    /// Wait for the new snapshot to be usable before deleting anything, and for deletions to finish.
    #[arg(long)]
    pub wait: bool,
    /// Zone the hour/day/week/month/year buckets are cut in [default: UTC].
    #[arg(long, value_name = "IANA_NAME")]
    pub timezone: Option<String>,
    /// Wait this long for another run's lock instead of exiting 8.
    #[arg(long, value_parser = duration, allow_hyphen_values = true, value_name = "DURATION")]
    pub lock_wait: Option<Duration>,
}

/// `check …`
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Volume to check (repeatable).
    #[arg(long = "volume", value_name = "ID")]
    pub volumes: Vec<String>,
    /// Check every volume.
    #[arg(long)]
    pub all_volumes: bool,
    // The values are checked by the command, not by clap, so that a bad one is the plugin's
    // UNKNOWN (exit 3), as the monitoring-plugin guidelines want, rather than a usage exit 2.
    /// CRITICAL when the newest snapshot is older than this (required).
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub max_age: Option<String>,
    /// WARNING when the newest snapshot is older than this (at most --max-age).
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub warn_age: Option<String>,
    /// CRITICAL when fewer snapshots than this exist [default: 1].
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub min_count: Option<String>,
    /// Only manual snapshots whose name starts with this count [default: the profile's rotate prefix, else snapctl-].
    #[arg(long)]
    pub prefix: Option<String>,
    /// Allow an empty --prefix.
    #[arg(long)]
    pub all_names: bool,
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
