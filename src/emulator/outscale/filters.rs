//! OUTSCALE's `Filters`: every key of the spec's `FiltersSnapshot`, `FiltersVolume` and
//! `FiltersTag`, answered from each item's JSON (keys AND, values OR), and the page an answer
//! returns.

use super::*;

/// How one `Filters` key of the spec is answered from an item's JSON (as the API would send it).
#[derive(Clone, Copy)]
pub(super) enum Match {
    /// The field (a string or a number) is one of the values.
    One(&'static str),
    /// The field, a list of strings, holds one of the values.
    AnyOf(&'static str, &'static str),
    /// The field of a `LinkedVolumes` entry is one of the values.
    Linked(&'static str),
    /// The field is a boolean equal to the value.
    Flag(&'static str, &'static str),
    /// The date-time field starts with one of the values (a date or a whole date-time).
    Prefix(&'static str),
    /// The date-time field is at or after / at or before the value.
    From(&'static str),
    To(&'static str),
    /// `Tags[].Key`, `Tags[].Value`, or `KEY=VALUE` pairs.
    TagKey,
    TagValue,
    Tag,
}

/// `FiltersSnapshot` of `outscale.yaml`, every key.
pub(super) const SNAPSHOT_FILTERS: &[(&str, Match)] = &[
    ("AccountAliases", Match::One("AccountAlias")),
    ("AccountIds", Match::One("AccountId")),
    ("ClientTokens", Match::One("ClientToken")),
    ("Descriptions", Match::One("Description")),
    ("FromCreationDate", Match::From("CreationDate")),
    (
        "PermissionsToCreateVolumeAccountIds",
        Match::AnyOf("PermissionsToCreateVolume", "AccountIds"),
    ),
    (
        "PermissionsToCreateVolumeGlobalPermission",
        Match::Flag("PermissionsToCreateVolume", "GlobalPermission"),
    ),
    ("Progresses", Match::One("Progress")),
    ("SnapshotIds", Match::One("SnapshotId")),
    ("States", Match::One("State")),
    ("TagKeys", Match::TagKey),
    ("TagValues", Match::TagValue),
    ("Tags", Match::Tag),
    ("ToCreationDate", Match::To("CreationDate")),
    ("VolumeIds", Match::One("VolumeId")),
    ("VolumeSizes", Match::One("VolumeSize")),
];

/// `FiltersVolume` of `outscale.yaml`, every key.
pub(super) const VOLUME_FILTERS: &[(&str, Match)] = &[
    ("ClientTokens", Match::One("ClientToken")),
    ("CreationDates", Match::Prefix("CreationDate")),
    (
        "LinkVolumeDeleteOnVmDeletion",
        Match::Linked("DeleteOnVmDeletion"),
    ),
    ("LinkVolumeDeviceNames", Match::Linked("DeviceName")),
    ("LinkVolumeLinkDates", Match::Linked("LinkDate")),
    ("LinkVolumeLinkStates", Match::Linked("State")),
    ("LinkVolumeVmIds", Match::Linked("VmId")),
    ("SnapshotIds", Match::One("SnapshotId")),
    ("SubregionNames", Match::One("SubregionName")),
    ("TagKeys", Match::TagKey),
    ("TagValues", Match::TagValue),
    ("Tags", Match::Tag),
    ("VolumeIds", Match::One("VolumeId")),
    ("VolumeSizes", Match::One("Size")),
    ("VolumeStates", Match::One("State")),
    ("VolumeTypes", Match::One("VolumeType")),
];

/// `FiltersTag` of `outscale.yaml`, every key.
pub(super) const TAG_FILTERS: &[(&str, Match)] = &[
    ("Keys", Match::One("Key")),
    ("ResourceIds", Match::One("ResourceId")),
    ("ResourceTypes", Match::One("ResourceType")),
    ("Values", Match::One("Value")),
];

/// The request's `Filters`, checked as the gateway checks them: an object whose keys are all in
/// `table` (the spec sets `additionalProperties: false`), each a list of values, or one value
/// for the dates and flags. A key the spec lacks, or a value of the wrong type, is refused.
pub(super) fn filters<'a>(
    body: &'a Value,
    table: &[(&'static str, Match)],
) -> Result<Vec<(Match, &'a Value)>, Box<Response<Body>>> {
    let Some(given) = body.get("Filters") else {
        return Ok(Vec::new());
    };
    let Some(given) = given.as_object() else {
        return Err(Box::new(err(
            400,
            "4108",
            "InvalidParameterValue",
            "Filters must be an object",
        )));
    };
    let mut out = Vec::new();
    for (key, value) in given {
        let Some((_, how)) = table.iter().find(|(k, _)| k == key) else {
            return Err(Box::new(err(
                400,
                "4045",
                "InvalidParameterValue",
                &format!("Filters.{key} is not a parameter of this call"),
            )));
        };
        let scalar = matches!(how, Match::From(_) | Match::To(_) | Match::Flag(..));
        if scalar == value.is_array() {
            return Err(Box::new(err(
                400,
                "4108",
                "InvalidParameterValue",
                &format!("Filters.{key} has the wrong type"),
            )));
        }
        out.push((*how, value));
    }
    Ok(out)
}

/// Whether `item` (its JSON as the API sends it) passes every filter: keys AND, values OR.
pub(super) fn passes(item: &Value, filters: &[(Match, &Value)]) -> bool {
    let listed =
        |v: &Value, field: &Value| v.as_array().is_some_and(|vs| vs.iter().any(|w| w == field));
    let tags = |item: &Value| -> Vec<(String, String)> {
        item["Tags"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                (
                    t["Key"].as_str().unwrap_or_default().to_string(),
                    t["Value"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    let time = |v: &Value| v.as_str().and_then(|t| t.parse::<Timestamp>().ok());
    filters.iter().all(|(how, want)| match *how {
        Match::One(f) => listed(want, &item[f]),
        Match::AnyOf(a, b) => item[a][b]
            .as_array()
            .into_iter()
            .flatten()
            .any(|x| listed(want, x)),
        Match::Linked(f) => item["LinkedVolumes"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|l| listed(want, &l[f])),
        Match::Flag(a, b) => item[a][b] == **want,
        Match::Prefix(f) => want.as_array().into_iter().flatten().any(|w| {
            w.as_str()
                .is_some_and(|w| item[f].as_str().is_some_and(|x| x.starts_with(w)))
        }),
        Match::From(f) => time(&item[f]).zip(time(want)).is_some_and(|(x, w)| x >= w),
        Match::To(f) => time(&item[f]).zip(time(want)).is_some_and(|(x, w)| x <= w),
        Match::TagKey => tags(item).iter().any(|(k, _)| listed(want, &json!(k))),
        Match::TagValue => tags(item).iter().any(|(_, v)| listed(want, &json!(v))),
        Match::Tag => tags(item)
            .iter()
            .any(|(k, v)| listed(want, &json!(format!("{k}={v}")))),
    })
}

/// `Filters.<key>` as strings.
pub(super) fn filter(body: &Value, key: &str) -> Option<Vec<String>> {
    body["Filters"][key].as_array().map(|a| {
        a.iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    })
}

/// One page of `items`, with the next token (the offset). Only the page is turned into JSON, so
/// paging through 100,000 snapshots stays cheap.
pub(super) fn page<T>(
    body: &Value,
    items: &[T],
    key: &str,
    json: impl Fn(&T) -> Value,
) -> Response<Body> {
    let per = body["ResultsPerPage"]
        .as_u64()
        .unwrap_or(100)
        .clamp(1, 1000) as usize;
    let start: usize = body["NextPageToken"]
        .as_str()
        .and_then(|t| t.strip_prefix("page-"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let end = (start + per).min(items.len());
    let shown: Vec<Value> = items[start.min(end)..end].iter().map(json).collect();
    let mut out = json!({ key: shown });
    if end < items.len() {
        out["NextPageToken"] = json!(format!("page-{end}"));
    }
    ok(out)
}
