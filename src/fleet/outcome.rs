//! What became of a fleet run: each policy's outcome and the whole run's (the JSON report), built
//! from the units' outcomes the engine returns ([`crate::engine::outcome`]).

use jiff::Timestamp;
use serde::Serialize;

use super::plan::{FleetPlan, PolicyPlan};
use crate::engine::outcome::{Failure, UnitRun, UnitStatus};

/// Schema name of the run report (`report_file`, `policy apply -o json`).
pub const REPORT_SCHEMA: &str = "snapctl.policy-report/v1";

/// How a policy ended, as the report writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyStatus {
    /// Every unit ok.
    Ok,
    /// Some unit failed.
    Failed,
    /// Refused (`expect_volumes`, `max_delete`).
    Refused,
    /// Not planned at all (connection or volume listing failed).
    Error,
    /// A signal stopped it before every unit was done.
    Interrupted,
}

/// One policy's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyRun {
    /// Policy id.
    pub id: String,
    /// Provider.
    pub provider: Option<crate::kind::ProviderKind>,
    /// How it ended.
    pub status: PolicyStatus,
    /// Volumes selected.
    pub selected: usize,
    /// Seconds between ticks.
    pub interval_seconds: u64,
    /// Why it was refused.
    pub refused: Option<String>,
    /// Why it could not run.
    pub error: Option<String>,
    /// Wall time of its account's part of the run, from the start, listing included (policies of
    /// one account share it).
    pub duration_seconds: f64,
    /// Per volume.
    pub units: Vec<UnitRun>,
    /// Restore drills run (`drill`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drills: Vec<super::drill::DrillRun>,
    /// Volumes earlier drills left behind, and whether they were deleted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drill_cleanups: Vec<super::drill::Cleanup>,
    /// Volumes with the policy's drill mark but not the cloud's proof that a drill made them:
    /// left alone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drill_suspects: Vec<super::plan::DrillSuspect>,
    /// Why no drill could be planned or run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drill_error: Option<String>,
    /// Every volume's drills as the state records them after the run (policies with a drill).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drill: Option<super::drill::DrillSummary>,
    /// Copies made (or tried) in other Regions (`copy`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<super::copy::CopyRun>,
    /// Copies deleted at destinations (their retention, failed imports).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub copy_deletions: Vec<super::copy::CopyDeletion>,
    /// What each destination holds per volume after the run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub copies_held: Vec<super::copy::CopiesHeld>,
    /// Why a destination could not be worked on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub copy_errors: Vec<String>,
}

/// A whole run: the JSON report (`report_file`) and what `apply` prints.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// [`REPORT_SCHEMA`].
    pub schema: &'static str,
    /// When the run started.
    #[serde(serialize_with = "crate::model::ser_time")]
    pub started_at: Option<Timestamp>,
    /// When it ended.
    #[serde(serialize_with = "crate::model::ser_time")]
    pub finished_at: Option<Timestamp>,
    /// Why the whole run was refused (`--max-delete`).
    pub refused: Option<String>,
    /// Per policy.
    pub policies: Vec<PolicyRun>,
}

/// The report of a plan nothing was done for (refused runs, `check`).
pub fn report_of_plan(plan: &FleetPlan, started: Timestamp) -> RunReport {
    report_with(plan, started, Vec::new())
}

/// The report of `plan`, each unit as it `ran` (per policy, per unit) or, where it did not run,
/// from its plan.
pub(super) fn report_with(
    plan: &FleetPlan,
    started: Timestamp,
    mut ran: Vec<Vec<Option<UnitRun>>>,
) -> RunReport {
    ran.resize_with(plan.policies.len(), Vec::new);
    RunReport {
        schema: REPORT_SCHEMA,
        started_at: Some(started),
        finished_at: Some(Timestamp::now()),
        refused: None,
        policies: plan
            .policies
            .iter()
            .zip(ran)
            .map(|(p, ran)| PolicyRun {
                id: p.id.clone(),
                provider: p.provider,
                status: policy_status(p, &[]),
                selected: p.selected,
                interval_seconds: p.interval_seconds,
                refused: p.refused.clone().or(p.deletions_refused.clone()),
                error: p.error.clone(),
                duration_seconds: 0.0,
                drills: vec![],
                drill_cleanups: vec![],
                drill_suspects: p.drill_suspects.clone(),
                drill_error: p.drill_error.clone(),
                drill: None,
                copies: vec![],
                copy_deletions: vec![],
                copies_held: p
                    .copies
                    .iter()
                    .flat_map(|c| {
                        c.held.iter().map(|h| super::copy::CopiesHeld {
                            region: c.region.clone(),
                            held: h.clone(),
                        })
                    })
                    .collect(),
                copy_errors: p
                    .copies
                    .iter()
                    .filter_map(|c| Some(format!("copy to {}: {}", c.region, c.error.as_ref()?)))
                    .collect(),
                units: {
                    // Exactly one slot per unit, so the slots' vector is reused for the units.
                    let mut ran = ran;
                    ran.resize_with(p.units.len(), || None);
                    ran.into_iter()
                        .zip(&p.units)
                        .map(|(ran, u)| {
                            if let Some(run) = ran {
                                return run;
                            }
                            let mut run = UnitRun::of(u);
                            run.planned.clear();
                            if let Some(e) = &u.error {
                                run.status = UnitStatus::Unknown;
                                run.failures.push(Failure {
                                    op: "list",
                                    id: None,
                                    error: e.clone(),
                                    cause: None,
                                });
                            } else if p.refused.is_some() {
                                run.status = UnitStatus::Refused;
                            }
                            run
                        })
                        .collect()
                },
            })
            .collect(),
    }
}

pub(super) fn policy_status(p: &PolicyPlan, units: &[UnitRun]) -> PolicyStatus {
    if p.error.is_some() {
        PolicyStatus::Error
    } else if p.refused.is_some() || p.deletions_refused.is_some() {
        PolicyStatus::Refused
    } else if units.iter().any(|u| u.status.is_failure())
        || p.units.iter().any(|u| u.error.is_some())
    {
        PolicyStatus::Failed
    } else {
        PolicyStatus::Ok
    }
}

impl PolicyRun {
    /// Drills that failed and drill volumes left undeleted.
    pub fn drill_failures(&self) -> usize {
        self.drills
            .iter()
            .filter(|d| d.status != super::drill::DrillStatus::Ok)
            .count()
            + self.drill_cleanups.iter().filter(|c| !c.ok).count()
            + usize::from(self.drill_error.is_some())
    }

    /// Copies that failed, copies left undeleted, destinations that could not be worked on.
    pub fn copy_failures(&self) -> usize {
        self.copies
            .iter()
            .filter(|c| c.status == super::copy::CopyStatus::Failed)
            .count()
            + self.copy_deletions.iter().filter(|d| !d.ok).count()
            + self.copy_errors.len()
    }
}

impl RunReport {
    /// Units that failed, policies refused, policies that could not run.
    pub fn counts(&self) -> (usize, usize, usize) {
        let failed = self
            .policies
            .iter()
            .flat_map(|p| &p.units)
            .filter(|u| u.status.is_failure())
            .count();
        let refused = self
            .policies
            .iter()
            .filter(|p| p.status == PolicyStatus::Refused)
            .count();
        let errors = self
            .policies
            .iter()
            .filter(|p| p.status == PolicyStatus::Error)
            .count();
        (failed, refused, errors)
    }

    /// Drills that failed, drill volumes left undeleted, and policies whose drills could not
    /// run.
    pub fn drill_failures(&self) -> usize {
        self.policies.iter().map(PolicyRun::drill_failures).sum()
    }
}
