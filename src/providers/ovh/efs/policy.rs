//! EFS snapshot policies behind `schedule list|add|remove`: the wire types of
//! `/storage/netapp/{service}/snapshotPolicy`, the cron grammar of their rules (checked before any
//! request), and creating, waiting for and attaching policies. The share's other operations live
//! in the parent module.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::*;

/// `NetAppSnapshotPolicySchedule`: empty arrays mean "every".
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct PolicySchedule {
    minutes: Vec<u8>,
    #[serde(default)]
    hours: Vec<u8>,
    #[serde(default)]
    days: Vec<u8>,
    #[serde(default)]
    months: Vec<u8>,
    #[serde(default)]
    weekdays: Vec<u8>,
}

/// `NetAppSnapshotPolicyRule`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
struct PolicyRule {
    copies: u32,
    prefix: String,
    schedule: PolicySchedule,
}

/// `NetAppSnapshotPolicy`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotPolicy {
    id: String,
    name: Option<String>,
    description: Option<String>,
    is_default: Option<bool>,
    status: Option<String>,
    #[serde(default)]
    rules: Vec<PolicyRule>,
}

/// `GET …/share/{id}/snapshotPolicy`.
#[derive(Debug, Deserialize)]
struct SharePolicy {
    id: String,
}

#[derive(Debug, Serialize)]
struct PolicyCreateBody<'a> {
    name: &'a str,
    description: String,
    rules: Vec<PolicyRule>,
}

#[derive(Debug, Serialize)]
struct AttachBody<'a> {
    #[serde(rename = "snapshotPolicyID")]
    snapshot_policy_id: &'a str,
}

/// Rules per policy (EFS FAQ).
pub const MAX_RULES: usize = 4;

/// Name prefix of the policies snapctl creates (and may delete).
pub const POLICY_PREFIX: &str = "snapctl-";

/// One cron field into the API's list: `*` → `[]` (every), `5`, `1,15`, `1-5`, `*/15`, `0-30/10`.
fn cron_field(text: &str, what: &str, min: u8, max: u8) -> Result<Vec<u8>> {
    let bad = |reason: String| Error::InvalidInput {
        what: "cron field",
        value: format!("{what} {text:?}"),
        reason,
    };
    if text == "*" {
        return Ok(vec![]);
    }
    let mut out = Vec::new();
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u8>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| bad(format!("bad step {s:?}")))?,
            ),
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let a: u8 = a
                .parse()
                .map_err(|_| bad(format!("{a:?} is not a number")))?;
            let b: u8 = b
                .parse()
                .map_err(|_| bad(format!("{b:?} is not a number")))?;
            (a, b)
        } else {
            let v: u8 = range
                .parse()
                .map_err(|_| bad(format!("{range:?} is not a number")))?;
            (v, v)
        };
        if lo < min || hi > max || lo > hi {
            return Err(bad(format!("{what} take values {min} to {max}")));
        }
        out.extend((lo..=hi).step_by(usize::from(step)));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// `MIN HOUR DOM MON DOW` → the API's schedule, with its limits checked.
pub fn parse_cron(cron: &str) -> Result<PolicySchedule> {
    let fields: Vec<&str> = cron.split_whitespace().collect();
    let [min, hour, dom, mon, dow] = fields.as_slice() else {
        return Err(Error::InvalidInput {
            what: "cron expression",
            value: cron.to_string(),
            reason: "expected five fields: MIN HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK".into(),
        });
    };
    let minutes = cron_field(min, "minutes", 0, 59)?;
    if minutes.is_empty() {
        return Err(Error::InvalidInput {
            what: "cron expression",
            value: cron.to_string(),
            reason: "EFS needs explicit minutes (a snapshot every minute is not offered)".into(),
        });
    }
    Ok(PolicySchedule {
        minutes,
        hours: cron_field(hour, "hours", 0, 23)?,
        days: cron_field(dom, "days of month", 1, 31)?,
        months: cron_field(mon, "months", 1, 12)?,
        weekdays: cron_field(dow, "weekdays", 0, 6)?,
    })
}

fn cron_text(s: &PolicySchedule) -> String {
    let f = |v: &[u8]| {
        if v.is_empty() {
            "*".to_string()
        } else {
            v.iter().map(u8::to_string).collect::<Vec<_>>().join(",")
        }
    };
    format!(
        "{} {} {} {} {}",
        f(&s.minutes),
        f(&s.hours),
        f(&s.days),
        f(&s.months),
        f(&s.weekdays)
    )
}

/// `--every hour|day|week [--at HH:MM]` → a cron expression (weekly: Sundays).
fn shorthand_cron(every: &str, at: Option<&str>) -> Result<String> {
    let (hour, minute) = match at {
        None => (0u8, 0u8),
        Some(t) => {
            let (h, m) = t.split_once(':').ok_or_else(|| Error::InvalidInput {
                what: "--at",
                value: t.to_string(),
                reason: "expected HH:MM (or :MM for hourly)".into(),
            })?;
            let h: u8 = if h.is_empty() {
                0
            } else {
                h.parse().unwrap_or(99)
            };
            let m: u8 = m.parse().unwrap_or(99);
            if h > 23 || m > 59 {
                return Err(Error::InvalidInput {
                    what: "--at",
                    value: t.to_string(),
                    reason: "hours 0-23, minutes 0-59".into(),
                });
            }
            (h, m)
        }
    };
    match every {
        "hour" => Ok(format!("{minute} * * * *")),
        "day" => Ok(format!("{minute} {hour} * * *")),
        "week" => Ok(format!("{minute} {hour} * * 0")),
        other => Err(Error::InvalidInput {
            what: "--every",
            value: other.to_string(),
            reason: "EFS shorthands are hour, day and week (or give --cron)".into(),
        }),
    }
}

/// The policy rules a `schedule add` asks for, validated against the API's limits.
fn policy_rules(spec: &ScheduleSpec) -> Result<Vec<PolicyRule>> {
    let mut rules = Vec::new();
    for r in &spec.rules {
        rules.push(PolicyRule {
            copies: r.keep,
            prefix: r.prefix.clone(),
            schedule: parse_cron(&r.cron)?,
        });
    }
    if rules.is_empty() {
        return Err(Error::Usage {
            message: "schedule add needs a rule on ovh-efs".into(),
            hint: Some(
                "e.g. --prefix daily --keep 7 --every day --at 02:30, or --cron '30 2 * * *', or --rule 'daily:7:30 2 * * *' (up to 4)"
                    .into(),
            ),
        });
    }
    if rules.len() > MAX_RULES {
        return Err(Error::Usage {
            message: format!(
                "{} rules given; an EFS snapshot policy holds at most {MAX_RULES}",
                rules.len()
            ),
            hint: None,
        });
    }
    for r in &rules {
        if r.copies == 0 {
            return Err(Error::InvalidInput {
                what: "--keep",
                value: "0".into(),
                reason: "a rule keeps at least one copy".into(),
            });
        }
        if r.prefix.is_empty()
            || !r
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(Error::InvalidInput {
                what: "--prefix",
                value: r.prefix.clone(),
                reason: "letters, digits and - _ . only".into(),
            });
        }
    }
    Ok(rules)
}

impl Efs {
    fn policy_url(&self, id: Option<&str>) -> reqwest::Url {
        let mut segs = vec!["storage", "netapp", self.service.as_str(), "snapshotPolicy"];
        if let Some(id) = id {
            segs.push(id);
        }
        self.client.url(&segs, &[])
    }

    async fn policies(&self) -> Result<Vec<SnapshotPolicy>> {
        self.client
            .get_json(
                self.policy_url(None),
                &format!("list the snapshot policies of service {}", self.service),
            )
            .await
    }

    async fn policy(&self, id: &str) -> Result<SnapshotPolicy> {
        check_uuid("snapshot policy id", id)?;
        self.client
            .get_json(
                self.policy_url(Some(id)),
                &format!("read snapshot policy {id}"),
            )
            .await
    }

    async fn share_policy(&self, share: &str) -> Result<SharePolicy> {
        self.client
            .get_json(
                self.share_url(share, &["snapshotPolicy"], &[]),
                &format!("read the snapshot policy of share {share}"),
            )
            .await
    }

    async fn attach(&self, share: &str, policy: &str) -> Result<()> {
        self.client
            .send_json(
                Method::PUT,
                self.share_url(share, &["snapshotPolicy"], &[]),
                &AttachBody {
                    snapshot_policy_id: policy,
                },
                &format!("attach snapshot policy {policy} to share {share}"),
            )
            .await?;
        Ok(())
    }

    fn map_policy(&self, p: SnapshotPolicy, share: Option<&str>) -> Schedule {
        Schedule {
            provider: ProviderKind::OvhEfs,
            volume_id: share.map(str::to_string),
            rules: p
                .rules
                .iter()
                .map(|r| ScheduleRule {
                    schedule: cron_text(&r.schedule),
                    keep: Some(r.copies),
                    prefix: Some(r.prefix.clone()),
                })
                .collect(),
            id: p.id,
            name: p.name,
            description: p.description,
            state: p.status,
            is_default: p.is_default,
        }
    }

    /// Poll a new policy until `available` (it cannot be attached before), in the shared loop.
    async fn wait_policy(&self, id: &str) -> Result<()> {
        let opts = crate::wait::WaitOptions {
            timeout: self.policy_wait,
            interval: self.poll_interval,
            show_progress: false,
        };
        crate::wait::poll_until(
            &format!("snapshot policy {id} to become available"),
            &opts,
            || async {
                let p = self.policy(id).await?;
                Ok(match p.status.as_deref() {
                    Some("available") => Progress::Done,
                    Some("error") => Progress::Failed {
                        state: "error".into(),
                        message: None,
                    },
                    other => Progress::Pending {
                        state: other.unwrap_or("unknown").to_string(),
                        percent: None,
                    },
                })
            },
        )
        .await
    }
}

impl Efs {
    /// `schedule list`: the share's policy (and with `all`, the service's others).
    pub(super) async fn policies_of(&self, volume: &str, all: bool) -> Result<Vec<Schedule>> {
        check_uuid("share id", volume)?;
        let attached = self.share_policy(volume).await?;
        if all {
            let mut out: Vec<Schedule> = self
                .policies()
                .await?
                .into_iter()
                .map(|p| {
                    let on_share = p.id == attached.id;
                    self.map_policy(p, on_share.then_some(volume))
                })
                .collect();
            // The attached policy first.
            out.sort_by_key(|s| s.volume_id.is_none());
            Ok(out)
        } else {
            Ok(vec![self.map_policy(
                self.policy(&attached.id).await?,
                Some(volume),
            )])
        }
    }

    /// `schedule add`: create a snapctl policy from the rules, wait for it, attach it.
    pub(super) async fn add_policy(
        &self,
        volume: &str,
        spec: &ScheduleSpec,
    ) -> Result<ScheduleChange> {
        check_uuid("share id", volume)?;
        let mut spec = spec.clone();
        if let Some(every) = spec.every.clone() {
            // The shorthand fills the cron of rules given without one.
            let cron = shorthand_cron(&every, spec.at.as_deref())?;
            for r in spec.rules.iter_mut().filter(|r| r.cron.is_empty()) {
                r.cron = cron.clone();
            }
        }
        if spec.rules.iter().any(|r| r.cron.is_empty()) {
            return Err(Error::usage(
                "each rule needs a schedule: --cron 'MIN HOUR DOM MON DOW' or --every hour|day|week",
            ));
        }
        let rules = policy_rules(&spec)?;
        let previous = self.share_policy(volume).await?;
        let previous = self.policy(&previous.id).await?;
        let name = spec.name.clone().unwrap_or_else(|| {
            format!(
                "{POLICY_PREFIX}{}-{}",
                &volume[..8],
                crate::model::stamp(jiff::Timestamp::now())
            )
        });
        let body = PolicyCreateBody {
            name: &name,
            description: format!("made by snapctl for share {volume}"),
            rules,
        };
        let what = format!("create snapshot policy {name}");
        let resp = self
            .client
            .send_json(Method::POST, self.policy_url(None), &body, &what)
            .await?;
        let created: SnapshotPolicy = self.client.decode(&resp, &what)?;
        self.wait_policy(&created.id).await?;
        self.attach(volume, &created.id).await?;
        let mut notes = vec![format!(
            "snapshot policy {} ({name}) is attached to share {volume}; EFS rules cannot be edited later: to change them, add a new schedule",
            created.id
        )];
        if previous.is_default != Some(true) {
            notes.push(format!(
                "it replaces policy {} ({}), which stays in the service (`snapctl schedule list --all`)",
                previous.id,
                previous.name.as_deref().unwrap_or("unnamed")
            ));
        }
        Ok(ScheduleChange {
            op: Operation::Done,
            notes,
        })
    }

    /// `schedule remove`: attach another policy (or the default), and delete an unused snapctl one.
    pub(super) async fn remove_policy(
        &self,
        volume: &str,
        removal: &ScheduleRemoval,
    ) -> Result<ScheduleChange> {
        check_uuid("share id", volume)?;
        if removal.every.is_some() {
            return Err(Error::usage(
                "--every applies to ovh-nasha; EFS detaches the whole policy (optionally --to POLICY_ID)",
            ));
        }
        let current = self.share_policy(volume).await?;
        let current = self.policy(&current.id).await?;
        let target = match &removal.to {
            Some(id) => self.policy(id).await?,
            None => self
                .policies()
                .await?
                .into_iter()
                .find(|p| p.is_default == Some(true))
                .ok_or_else(|| Error::Usage {
                    message: format!("service {} has no default snapshot policy", self.service),
                    hint: Some("name the policy to attach instead with --to POLICY_ID".into()),
                })?,
        };
        let mut notes = Vec::new();
        if current.id == target.id {
            notes.push(format!(
                "share {volume} already uses policy {} ({}); nothing to do",
                target.id,
                target.name.as_deref().unwrap_or("unnamed")
            ));
            return Ok(ScheduleChange {
                op: Operation::Done,
                notes,
            });
        }
        self.attach(volume, &target.id).await?;
        notes.push(format!(
            "share {volume} now uses policy {} ({})",
            target.id,
            target.name.as_deref().unwrap_or("unnamed")
        ));
        // Delete the old policy only if snapctl made it and no other share uses it.
        let ours = current
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with(POLICY_PREFIX))
            && current.is_default != Some(true);
        if !ours {
            notes.push(format!(
                "policy {} was not made by snapctl; it stays in the service",
                current.id
            ));
        } else {
            let mut users = Vec::new();
            for share in self.list_volumes().await? {
                if share.id != volume && self.share_policy(&share.id).await?.id == current.id {
                    users.push(share.id);
                }
            }
            if users.is_empty() {
                self.client
                    .call(
                        Method::DELETE,
                        self.policy_url(Some(&current.id)),
                        None,
                        &format!("delete snapshot policy {}", current.id),
                    )
                    .await?;
                notes.push(format!(
                    "deleted policy {}, which nothing uses any more",
                    current.id
                ));
            } else {
                notes.push(format!(
                    "policy {} stays: shares {} still use it",
                    current.id,
                    users.join(", ")
                ));
            }
        }
        Ok(ScheduleChange {
            op: Operation::Done,
            notes,
        })
    }
}
