//! Fleet mode: snapshot policies as code (`snapctl policy …`). This file is fleet mode's one
//! door: its modules are private, and what the commands use is named here, once.
//!
//! The file (`file`) says which volumes, how often and what to keep; `mark` is how a policy
//! knows its own snapshots; `plan` decides per policy and volume what to create, delete and keep
//! (no I/O; each volume's plan is an [`crate::engine::unit::Unit`] the engine carries out);
//! `run` reads the clouds and applies a plan and `outcome` says what became of each policy;
//! `report` writes the metrics and the files, `push` sends them to a Pushgateway; `orphans`
//! finds what no policy manages and adopts `rotate`'s snapshots; `drill` restores snapshots to
//! prove they work and `copy` copies them to other Regions; `coverage` keeps the run history and
//! reports what it proves.

mod atomic;
mod cadence;
mod copy;
mod coverage;
mod drill;
mod file;
mod mark;
mod orphans;
mod outcome;
mod plan;
mod push;
mod report;
mod restore;
mod run;

// The policy file.
pub use file::{
    Checked, cadence_words, check_output_path, check_strict, duration_secs, load_policy_file,
    load_with_profiles,
};
// Planning and applying.
pub use plan::{Compiled, DrillSuspect, FleetPlan, PLAN_SCHEMA, PolicyPlan, compile};
pub use run::{ApplyOptions, Planned, add_drill_summaries, apply, plan_all};
// What a run did, and the files and metrics that say it.
pub use atomic::{write_atomically, write_atomically_with};
pub use outcome::{PolicyRun, PolicyStatus, REPORT_SCHEMA, RunReport, report_of_plan};
pub use push::{Push, exit_code_family, push_group, push_target, send_push};
pub use report::{freshness, metrics};
// Orphans and adoption.
pub use orphans::{Adoption, FoundOrphan, adopt, adoptions, find_orphans};
// Restoring a volume as of a time.
pub use restore::{
    CopyPoint, HeldCopy, RestorePoint, copies_at, copy_destination, copy_restore_point,
    restore_point,
};
// Restore drills and copies.
pub use copy::CopyStatus;
pub use drill::{DrillStatus, DrillSummary, drill_verdict, resolve_state_dir};
// The run history and the coverage report.
pub use coverage::{
    PolicyCoverage, build_coverage, coverage_csv, coverage_html, coverage_table, read_history,
    record_history,
};
