//! Selecting what a snapshot list prints: `--filter KEY=VALUE` (name globs, state, kind, volume),
//! `--older-than`/`--newer-than`, `--sort FIELD` and `--limit N`. Applied to each page as it
//! arrives, so a filtered `-o json|ids` list still streams (a `--sort` needs every page first).

use std::time::Duration;

use jiff::Timestamp;
use wildmatch::WildMatch;

use crate::error::{Error, Result};
use crate::model::Snapshot;

/// The keys `--filter` takes.
pub const FILTER_KEYS: &str = "name (a glob: * and ?), state, kind, volume";
/// The fields `--sort` takes.
pub const SORT_FIELDS: &str = "created, name, id, state, kind, volume (prefix - for descending)";

/// What to keep and in which order.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Every filter must match (AND); the values of one filter are alternatives (OR).
    filters: Vec<(Key, Vec<String>)>,
    older_than: Option<Timestamp>,
    newer_than: Option<Timestamp>,
    /// Sort field and whether descending.
    pub sort: Option<(Field, bool)>,
    /// Print at most this many.
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Name,
    State,
    Kind,
    Volume,
}

/// A field to sort on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Creation time (unknown last).
    Created,
    /// Name.
    Name,
    /// Id.
    Id,
    /// Normalised state.
    State,
    /// Kind.
    Kind,
    /// Volume id.
    Volume,
}

impl Selection {
    /// Parse the flags; every mistake is a usage error before any request.
    pub fn parse(
        filters: &[String],
        older_than: Option<Duration>,
        newer_than: Option<Duration>,
        sort: Option<&str>,
        limit: Option<usize>,
        now: Timestamp,
    ) -> Result<Self> {
        let mut out = Selection {
            limit,
            ..Selection::default()
        };
        for f in filters {
            let (k, v) = f.split_once('=').ok_or_else(|| Error::Usage {
                message: format!("--filter {f:?} is not KEY=VALUE"),
                hint: Some(format!(
                    "keys: {FILTER_KEYS}; e.g. --filter state=error --filter 'name=db-*'"
                )),
            })?;
            let key = match k.trim() {
                "name" => Key::Name,
                "state" => Key::State,
                "kind" => Key::Kind,
                "volume" | "volume_id" => Key::Volume,
                other => {
                    return Err(Error::Usage {
                        message: format!("--filter knows no key {other:?}"),
                        hint: Some(format!("keys: {FILTER_KEYS}")),
                    });
                }
            };
            let values: Vec<String> = v.split(',').map(|x| x.trim().to_string()).collect();
            out.filters.push((key, values));
        }
        let ago = |d: Duration| {
            jiff::SignedDuration::try_from(d)
                .ok()
                .and_then(|d| now.checked_sub(d).ok())
                .ok_or_else(|| Error::usage("the age is too large"))
        };
        out.older_than = older_than.map(ago).transpose()?;
        out.newer_than = newer_than.map(ago).transpose()?;
        if let Some(s) = sort {
            let (desc, name) = match s.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, s),
            };
            let field = match name {
                "created" | "created_at" => Field::Created,
                "name" => Field::Name,
                "id" => Field::Id,
                "state" => Field::State,
                "kind" => Field::Kind,
                "volume" | "volume_id" => Field::Volume,
                other => {
                    return Err(Error::Usage {
                        message: format!("--sort knows no field {other:?}"),
                        hint: Some(format!("fields: {SORT_FIELDS}")),
                    });
                }
            };
            out.sort = Some((field, desc));
        }
        Ok(out)
    }

    /// Whether anything is selected at all (else the list prints as the API gives it).
    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
            && self.older_than.is_none()
            && self.newer_than.is_none()
            && self.sort.is_none()
            && self.limit.is_none()
    }

    /// Whether `s` passes every filter.
    pub fn keeps(&self, s: &Snapshot) -> bool {
        let all = self.filters.iter().all(|(key, values)| {
            let have = match key {
                Key::Name => s.name.as_deref().unwrap_or(""),
                Key::State => s.state.as_str(),
                Key::Kind => s.kind.as_str(),
                Key::Volume => s.volume_id.as_deref().unwrap_or(""),
            };
            values.iter().any(|v| match key {
                Key::Name => WildMatch::new(v).matches(have),
                _ => v == have,
            })
        });
        // A snapshot of unknown age is neither older nor newer than anything.
        let older = self
            .older_than
            .is_none_or(|t| s.created_at.is_some_and(|c| c < t));
        let newer = self
            .newer_than
            .is_none_or(|t| s.created_at.is_some_and(|c| c > t));
        all && older && newer
    }

    /// Sort in place by the chosen field (stable: ties keep the API's order).
    pub fn sort(&self, items: &mut [Snapshot]) {
        let Some((field, desc)) = self.sort else {
            return;
        };
        items.sort_by(|a, b| {
            let o = match field {
                // Unknown creation times sort last either way.
                Field::Created => match (a.created_at, b.created_at) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    (Some(_), None) => return std::cmp::Ordering::Less,
                    (None, Some(_)) => return std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                },
                Field::Name => a.name.cmp(&b.name),
                Field::Id => a.id.cmp(&b.id),
                Field::State => a.state.as_str().cmp(b.state.as_str()),
                Field::Kind => a.kind.as_str().cmp(b.kind.as_str()),
                Field::Volume => a.volume_id.cmp(&b.volume_id),
            };
            if desc { o.reverse() } else { o }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::ProviderKind;
    use crate::model::{SnapshotKind, SnapshotState};

    fn snap(id: &str, name: &str, state: SnapshotState, hours_ago: i64) -> Snapshot {
        Snapshot {
            provider: ProviderKind::Outscale,
            id: id.into(),
            volume_id: Some("vol-00000001".into()),
            name: Some(name.into()),
            description: None,
            state,
            provider_state: None,
            kind: SnapshotKind::Manual,
            created_at: Some(
                "2026-11-25T12:00:00Z".parse::<Timestamp>().expect("ts")
                    - jiff::SignedDuration::from_hours(hours_ago),
            ),
            size_gib: None,
            expires_at: None,
        }
    }

    #[test]
    fn filters_and_ages_combine_and_sort_orders() {
        let now: Timestamp = "2026-11-25T12:00:00Z".parse().expect("ts");
        let all = vec![
            snap("a", "db-1", SnapshotState::Available, 1),
            snap("b", "db-2", SnapshotState::Error, 30),
            snap("c", "web-1", SnapshotState::Available, 50),
        ];
        let sel = Selection::parse(
            &["name=db-*".into(), "state=available,error".into()],
            Some(Duration::from_secs(24 * 3600)),
            None,
            Some("-created"),
            None,
            now,
        )
        .expect("parses");
        let kept: Vec<&str> = all
            .iter()
            .filter(|s| sel.keeps(s))
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(kept, ["b"]);
        let mut sorted = all.clone();
        sel.sort(&mut sorted);
        assert_eq!(
            sorted.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert!(Selection::parse(&["colour=red".into()], None, None, None, None, now).is_err());
        assert!(Selection::parse(&[], None, None, Some("size"), None, now).is_err());
        assert!(Selection::parse(&["name".into()], None, None, None, None, now).is_err());
    }
}
