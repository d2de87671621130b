//! Selecting what a list prints: `--filter KEY=VALUE` (name globs, state, kind, volume; tags for
//! volumes), `--older-than`/`--newer-than`, `--sort FIELD` and `--limit N`, for `snapshot list`
//! and `volume list` alike ([`Selectable`]). Applied to each page as it arrives, so a filtered
//! `-o json|ids` list still streams (a `--sort` needs every page first).

use std::time::Duration;

use jiff::Timestamp;
use wildmatch::WildMatch;

use crate::error::{Error, Result};
use crate::model::{Snapshot, Volume};

/// The keys `--filter` takes on snapshots.
pub const FILTER_KEYS: &str = "name (a glob: * and ?), state, kind, volume";
/// The fields `--sort` takes on snapshots.
pub const SORT_FIELDS: &str = "created, name, id, state, kind, volume (prefix - for descending)";
/// The keys `--filter` takes on volumes.
pub const VOLUME_FILTER_KEYS: &str =
    "name (a glob: * and ?), state, tag.KEY (OUTSCALE tags, Cinder metadata)";
/// The fields `--sort` takes on volumes.
pub const VOLUME_SORT_FIELDS: &str = "created, name, id, state, size (prefix - for descending)";

/// The keys `--filter` takes on schedules.
pub const SCHEDULE_FILTER_KEYS: &str = "name (a glob: * and ?), state (the provider's word)";
/// The fields `--sort` takes on schedules.
pub const SCHEDULE_SORT_FIELDS: &str = "name, id, state (prefix - for descending)";

/// What a list holds: snapshots, volumes or schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Items {
    /// `snapshot list`.
    Snapshots,
    /// `volume list`.
    Volumes,
    /// `schedule list` (no creation time: no ages).
    Schedules,
}

impl Selectable for crate::model::Schedule {
    fn text(&self, key: &Key) -> Option<&str> {
        match key {
            Key::Name => Some(self.name.as_deref().unwrap_or("")),
            Key::State => Some(self.state.as_deref().unwrap_or("")),
            Key::Kind | Key::Volume | Key::Tag(_) => None,
        }
    }
    fn created(&self) -> Option<Timestamp> {
        None
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn size(&self) -> Option<u64> {
        None
    }
}

/// Something a [`Selection`] filters and sorts.
pub trait Selectable {
    /// The text a filter key compares (`None`: the item has no such field).
    fn text(&self, key: &Key) -> Option<&str>;
    /// Creation time.
    fn created(&self) -> Option<Timestamp>;
    /// Id.
    fn id(&self) -> &str;
    /// Size in GiB.
    fn size(&self) -> Option<u64>;
}

impl Selectable for Snapshot {
    fn text(&self, key: &Key) -> Option<&str> {
        match key {
            Key::Name => Some(self.name.as_deref().unwrap_or("")),
            Key::State => Some(self.state.as_str()),
            Key::Kind => Some(self.kind.as_str()),
            Key::Volume => Some(self.volume_id.as_deref().unwrap_or("")),
            Key::Tag(_) => None,
        }
    }
    fn created(&self) -> Option<Timestamp> {
        self.created_at
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn size(&self) -> Option<u64> {
        self.size_gib
    }
}

impl Selectable for Volume {
    fn text(&self, key: &Key) -> Option<&str> {
        match key {
            Key::Name => Some(self.name.as_deref().unwrap_or("")),
            Key::State => Some(self.state.as_str()),
            Key::Tag(k) => Some(self.tags.get(k).map(String::as_str).unwrap_or("")),
            Key::Kind | Key::Volume => None,
        }
    }
    fn created(&self) -> Option<Timestamp> {
        self.created_at
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn size(&self) -> Option<u64> {
        self.size_gib
    }
}

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

/// A filter key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// Name (a glob).
    Name,
    /// Normalised state.
    State,
    /// Snapshot kind.
    Kind,
    /// Snapshot's volume.
    Volume,
    /// A volume tag (OUTSCALE) or metadata key (Cinder).
    Tag(String),
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
    /// Size.
    Size,
}

impl Selection {
    /// Parse the flags of a snapshot list; every mistake is a usage error before any request.
    #[cfg(test)]
    pub fn parse(
        filters: &[String],
        older_than: Option<Duration>,
        newer_than: Option<Duration>,
        sort: Option<&str>,
        limit: Option<usize>,
        now: Timestamp,
    ) -> Result<Self> {
        Self::parse_for(
            Items::Snapshots,
            filters,
            older_than,
            newer_than,
            sort,
            limit,
            now,
        )
    }

    /// Parse the flags of a list of `items`.
    pub fn parse_for(
        items: Items,
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
        let (keys, fields) = match items {
            Items::Snapshots => (FILTER_KEYS, SORT_FIELDS),
            Items::Volumes => (VOLUME_FILTER_KEYS, VOLUME_SORT_FIELDS),
            Items::Schedules => (SCHEDULE_FILTER_KEYS, SCHEDULE_SORT_FIELDS),
        };
        if items == Items::Schedules && (older_than.is_some() || newer_than.is_some()) {
            return Err(Error::usage(
                "schedules have no creation time: --older-than and --newer-than mean nothing here",
            ));
        }
        for f in filters {
            let (k, v) = f.split_once('=').ok_or_else(|| Error::Usage {
                message: format!("--filter {f:?} is not KEY=VALUE"),
                hint: Some(format!(
                    "keys: {keys}; e.g. --filter state=error --filter 'name=db-*'"
                )),
            })?;
            let unknown = |other: &str| Error::Usage {
                message: format!("--filter knows no key {other:?} here"),
                hint: Some(format!("keys: {keys}")),
            };
            let key = match (items, k.trim()) {
                (_, "name") => Key::Name,
                (_, "state") => Key::State,
                (Items::Snapshots, "kind") => Key::Kind,
                (Items::Snapshots, "volume" | "volume_id") => Key::Volume,
                (Items::Volumes, t) if t.starts_with("tag.") && t.len() > 4 => {
                    Key::Tag(t["tag.".len()..].to_string())
                }
                (_, other) => return Err(unknown(other)),
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
            let field = match (items, name) {
                (Items::Snapshots | Items::Volumes, "created" | "created_at") => Field::Created,
                (_, "name") => Field::Name,
                (_, "id") => Field::Id,
                (_, "state") => Field::State,
                (Items::Snapshots, "kind") => Field::Kind,
                (Items::Snapshots, "volume" | "volume_id") => Field::Volume,
                (Items::Volumes, "size" | "size_gib") => Field::Size,
                (_, other) => {
                    return Err(Error::Usage {
                        message: format!("--sort knows no field {other:?} here"),
                        hint: Some(format!("fields: {fields}")),
                    });
                }
            };
            out.sort = Some((field, desc));
        }
        Ok(out)
    }

    /// The tag filters with one value each, which an API can apply ([`crate::provider::Provider::list_volumes_tagged`]).
    pub fn tags(&self) -> std::collections::BTreeMap<String, String> {
        self.filters
            .iter()
            .filter_map(|(k, values)| match (k, values.as_slice()) {
                (Key::Tag(t), [one]) => Some((t.clone(), one.clone())),
                _ => None,
            })
            .collect()
    }

    /// What of this selection an API can filter on (states, creation dates), for
    /// [`crate::provider::Provider::list_snapshots_where`].
    pub fn snapshot_query(&self) -> crate::model::SnapshotQuery {
        let states = match self
            .filters
            .iter()
            .filter(|(k, _)| *k == Key::State)
            .collect::<Vec<_>>()
            .as_slice()
        {
            [(_, values)] => values
                .iter()
                .map(|v| match v.as_str() {
                    "creating" => Some(crate::model::SnapshotState::Creating),
                    "available" => Some(crate::model::SnapshotState::Available),
                    "deleting" => Some(crate::model::SnapshotState::Deleting),
                    "error" => Some(crate::model::SnapshotState::Error),
                    "restoring" => Some(crate::model::SnapshotState::Restoring),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .unwrap_or_default(),
            _ => vec![],
        };
        crate::model::SnapshotQuery {
            states,
            created_after: self.newer_than,
            created_before: self.older_than,
        }
    }

    /// Whether `s` passes every filter.
    pub fn keeps<T: Selectable>(&self, s: &T) -> bool {
        let all = self.filters.iter().all(|(key, values)| {
            let have = s.text(key).unwrap_or("");
            values.iter().any(|v| match key {
                Key::Name => WildMatch::new(v).matches(have),
                _ => v == have,
            })
        });
        // An item of unknown age is neither older nor newer than anything.
        let older = self
            .older_than
            .is_none_or(|t| s.created().is_some_and(|c| c < t));
        let newer = self
            .newer_than
            .is_none_or(|t| s.created().is_some_and(|c| c > t));
        all && older && newer
    }

    /// Sort in place by the chosen field (stable: ties keep the API's order).
    pub fn sort<T: Selectable>(&self, items: &mut [T]) {
        let Some((field, desc)) = self.sort else {
            return;
        };
        items.sort_by(|a, b| {
            let o = match field {
                // Unknown creation times sort last either way.
                Field::Created => match (a.created(), b.created()) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    (Some(_), None) => return std::cmp::Ordering::Less,
                    (None, Some(_)) => return std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                },
                Field::Name => a.text(&Key::Name).cmp(&b.text(&Key::Name)),
                Field::Id => a.id().cmp(b.id()),
                Field::State => a.text(&Key::State).cmp(&b.text(&Key::State)),
                Field::Kind => a.text(&Key::Kind).cmp(&b.text(&Key::Kind)),
                Field::Volume => a.text(&Key::Volume).cmp(&b.text(&Key::Volume)),
                Field::Size => a.size().cmp(&b.size()),
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
            .filter(|s| sel.keeps(*s))
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
