//! `snapctl policy …`: fleet mode's subcommands and their arguments.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::commands::cli::*;

/// `policy …`
#[derive(Debug, Clone, Subcommand)]
pub enum PolicyCmd {
    /// Parse and check a policy file; sends nothing (exit 2 with the line and key on error).
    Validate {
        /// The policy file (TOML).
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: PathBuf,
    },
    /// Show what apply would do now: + create, - delete (with why), = keep (with why), ! orphan.
    /// Read-only.
    Plan(PolicyPlanArgs),
    /// Do what a plan shows at this moment (or what a saved plan shows, with --plan).
    Apply(PolicyApplyArgs),
    /// Monitoring plugin over every policy and volume: Nagios codes 0-3 and perfdata.
    Check(PolicyRunArgs),
    /// List marked snapshots of policies no longer in the file, or of volumes that are gone;
    /// delete them only with --delete --policy-id ID.
    Orphans(PolicyOrphansArgs),
    /// Mark the snapshots `rotate` made (its prefix) as owned by a policy; shows the plan, changes
    /// nothing without --yes.
    Adopt(PolicyAdoptArgs),
    /// Coverage over a past window: per policy, volume and tick, was a snapshot taken (still
    /// kept, or pruned as planned), the achieved RPO, retention and drills; from the run
    /// history (`history_dir`) and what the clouds hold now. -o table|json|csv|html.
    Report(PolicyReportArgs),
    /// Make a new volume from the policy's snapshot that answered the newest tick at or before
    /// --at (default: now): shows what it makes, waits until it is usable, prints its id and how
    /// to reach it. The volume is yours: unmarked, never deleted by snapctl. --dry-run shows only.
    Restore(PolicyRestoreArgs),
    /// List each volume's copies in other Regions, per destination (source volume, tick, source
    /// snapshot, copy id, state): what `restore --region` can restore from. Read-only.
    Copies(PolicyCopiesArgs),
}

/// `policy copies`
#[derive(Debug, Clone, Args)]
pub struct PolicyCopiesArgs {
    /// File and policies.
    #[command(flatten)]
    pub run: PolicyRunArgs,
    /// Only this source volume's copies.
    #[arg(long, value_name = "VOLUME")]
    pub volume: Option<String>,
}

/// `policy restore`
#[derive(Debug, Clone, Args)]
pub struct PolicyRestoreArgs {
    /// The policy file (TOML).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: PathBuf,
    /// The policy whose snapshots the volume is restored from.
    #[arg(long = "policy", value_name = "ID")]
    pub policy: String,
    /// The volume to restore (one the policy snapshots).
    #[arg(long, value_name = "VOLUME")]
    pub volume: String,
    /// Restore the volume as it was at this time (RFC 3339) [default: now].
    #[arg(long, value_name = "TIME")]
    pub at: Option<jiff::Timestamp>,
    /// Name of the new volume.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// Restore from the policy's copy in this other Region (a `copy` destination of the
    /// policy), made there with that destination's profile.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// With --region: where the volume goes [default: the Region's first, `<REGION>a`].
    #[arg(long, value_name = "SUBREGION", requires = "region")]
    pub subregion: Option<String>,
}

/// `policy report`
#[derive(Debug, Clone, Args)]
pub struct PolicyReportArgs {
    /// File and policies.
    #[command(flatten)]
    pub run: PolicyRunArgs,
    /// How far back the report goes (`30d`, `12h`, `4w`).
    #[arg(long, value_name = "DURATION", default_value = "30d")]
    pub since: String,
    /// Write the report to this file (atomically, 0644) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `policy orphans`
#[derive(Debug, Clone, Args)]
pub struct PolicyOrphansArgs {
    /// The policy file (TOML).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: PathBuf,
    /// Delete the orphans marked for this policy id (for an id still in the file: only the
    /// snapshots of its volumes that are gone).
    #[arg(long)]
    pub delete: bool,
    /// The orphaned policy id whose snapshots --delete removes.
    #[arg(long, value_name = "ID", requires = "delete")]
    pub policy_id: Option<String>,
}

/// `policy adopt`
#[derive(Debug, Clone, Args)]
pub struct PolicyAdoptArgs {
    /// The policy file (TOML).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: PathBuf,
    /// The policy that adopts (one).
    #[arg(long = "policy", value_name = "ID")]
    pub policy: String,
    /// Name prefix of the snapshots to adopt (what `rotate --prefix` used).
    #[arg(long, default_value = "snapctl-")]
    pub prefix: String,
    /// Mark them (without it, only the plan is shown).
    #[arg(long)]
    pub yes: bool,
}

/// What every policy command but validate takes.
#[derive(Debug, Args, Clone)]
pub struct PolicyRunArgs {
    /// The policy file (TOML).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: PathBuf,
    /// Only this policy (repeatable; default: every policy of the file).
    #[arg(long = "policy", value_name = "ID")]
    pub policies: Vec<String>,
    /// Evaluate as of this time (RFC 3339) instead of now: a what-if plan, or a simulation
    /// against the emulator's clock.
    #[arg(long, value_name = "TIME")]
    pub at: Option<jiff::Timestamp>,
}

/// `policy plan`
#[derive(Debug, Clone, Args)]
pub struct PolicyPlanArgs {
    /// File and policies.
    #[command(flatten)]
    pub run: PolicyRunArgs,
    /// Exit 10 when the plan has changes (creates or deletes), 0 when it has none.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Also save the plan as JSON here, for `policy apply --plan FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `policy apply`
#[derive(Debug, Clone, Args)]
pub struct PolicyApplyArgs {
    /// File and policies.
    #[command(flatten)]
    pub run: PolicyRunArgs,
    /// Refuse the whole run, before any change, when it would delete more than this.
    #[arg(long, value_name = "N", default_value = "100", value_parser = count::<usize>, allow_negative_numbers = true)]
    pub max_delete: usize,
    /// Apply this saved plan (from `policy plan --out`); refused if a snapshot it deletes is gone
    /// or no longer owned by its policy.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Wait this long for a volume's lock (held by another run) instead of failing that volume.
    #[arg(long, value_parser = duration, allow_hyphen_values = true, value_name = "DURATION")]
    pub lock_wait: Option<Duration>,
    /// Push the run's metrics to this Prometheus Pushgateway (wins over the file's
    /// metrics_push_url); credentials from SNAPCTL_PUSH_USERNAME and SNAPCTL_PUSH_PASSWORD.
    #[arg(long, value_name = "URL")]
    pub push_url: Option<String>,
}
