//! NAS-HA wire types (the OpenAPI models snapctl reads and the bodies it sends) and what is read
//! from them: task progress, the time in a snapctl name, an expiration date.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::model::Progress;

/// `dedicated.nasha.StorageWithIAM` (fields used).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Storage {
    pub(super) ip: Option<String>,
}

/// `dedicated.nasha.Partition`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Partition {
    pub(super) partition_name: String,
    pub(super) size: Option<u64>,
}

/// `dedicated.nasha.customSnap`.
#[derive(Debug, Deserialize)]
pub(super) struct CustomSnap {
    pub(super) name: String,
    pub(super) expiration: Option<String>,
}

/// `dedicated.nasTask.Task`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Task {
    pub(super) task_id: i64,
    pub(super) status: String,
    pub(super) details: Option<String>,
}

/// POST body of `customSnapshot`.
#[derive(Debug, Serialize)]
pub(super) struct CustomSnapBody<'a> {
    pub(super) name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) expiration: Option<String>,
}

/// POST body of the partition `snapshot` (schedule) route.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SnapshotTypeBody<'a> {
    pub(super) snapshot_type: &'a str,
}

/// `snapctl` names its snapshots `<prefix>YYYYMMDDTHHMMSSZ`; NAS-HA reports no creation time, so the
/// time in such a name is the best one there is (rotation needs one).
pub(super) fn time_from_name(name: &str) -> Option<Timestamp> {
    crate::model::parse_stamp(name.get(name.len().checked_sub(16)?..)?)
}

pub(super) fn task_progress(task: Task) -> Progress {
    match task.status.as_str() {
        "done" => Progress::Done,
        "cancelled" | "customerError" | "ovhError" => Progress::Failed {
            state: task.status,
            message: task.details,
        },
        // todo, init, doing, and any word OVH adds later: not done.
        _ => Progress::Pending {
            state: task.status,
            percent: None,
        },
    }
}

/// `expiration` as returned: a date (midnight UTC) or a date-time.
pub(super) fn parse_expiration(s: &str) -> Option<Timestamp> {
    crate::providers::shared::api_time(Some(s)).or_else(|| {
        let date: jiff::civil::Date = s.parse().ok()?;
        crate::providers::shared::api_time(Some(&date.at(0, 0, 0, 0).to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapctl_names_carry_their_time() {
        assert_eq!(
            time_from_name("snapctl-20261124T093005Z").map(|t| t.to_string()),
            Some("2026-11-24T09:30:05Z".into())
        );
        assert_eq!(time_from_name("before-upgrade"), None);
    }

    #[test]
    fn task_statuses_map_to_progress() {
        let t = |s: &str| Task {
            task_id: 1,
            status: s.into(),
            details: Some("why".into()),
        };
        assert_eq!(task_progress(t("done")), Progress::Done);
        for failed in ["cancelled", "customerError", "ovhError"] {
            assert!(matches!(task_progress(t(failed)), Progress::Failed { .. }));
        }
        for pending in ["todo", "init", "doing", "somethingNew"] {
            assert!(matches!(
                task_progress(t(pending)),
                Progress::Pending { .. }
            ));
        }
    }

    #[test]
    fn expirations_parse_as_dates_or_times() {
        assert_eq!(
            parse_expiration("2022-06-24").map(|t| t.to_string()),
            Some("2022-06-24T00:00:00Z".into())
        );
        assert!(parse_expiration("2022-06-24T10:00:00+02:00").is_some());
    }
}
