//! Cinder volumes: listed, created (blank, from a snapshot or another volume), updated, deleted,
//! and their actions.

use super::*;

/// `["volumes", "detail"]`.
pub(super) fn list_volumes(
    w: &mut World,
    req: &Req,
    version: (u32, u32),
    base: &str,
) -> Response<Body> {
    // `metadata={"k":"v"}`: every pair must match.
    let want: BTreeMap<String, String> = match req.query("metadata") {
        None => BTreeMap::new(),
        Some(text) => match serde_json::from_str(text) {
            Ok(m) => m,
            Err(_) => return fault(400, "badRequest", "Invalid filter: metadata"),
        },
    };
    let items = w
        .pvc
        .vols
        .iter()
        .filter(|v| want.iter().all(|(k, val)| v.metadata.get(k) == Some(val)))
        .map(vol_json)
        .collect();
    list_page(req, version, items, "volumes", base)
}

/// `["volumes"]`.
pub(super) fn create_volume(w: &mut World, req: &Req) -> Response<Body> {
    let body = req.json().unwrap_or(json!({}));
    let v = &body["volume"];
    if v["source_volid"].is_string() && v["snapshot_id"].is_string() {
        return fault(
            400,
            "badRequest",
            "Invalid input received: only one of snapshot_id and source_volid may be given",
        );
    }
    if let Some(src) = v["source_volid"].as_str() {
        return cloned_volume(w, v, src);
    }
    let Some(sid) = v["snapshot_id"].as_str() else {
        return blank_volume(w, v);
    };
    let Some(snap) = w.pvc.snaps.iter().find(|s| s.id == sid) else {
        return fault(
            404,
            "itemNotFound",
            &format!("Snapshot {sid} could not be found."),
        );
    };
    let size = v["size"].as_u64().unwrap_or(snap.size);
    if size < snap.size {
        return fault(
            400,
            "badRequest",
            "Volume size cannot be lesser than the snapshot size.",
        );
    }
    created_volume(w, v, size, Some(sid.to_string()), None)
}

/// `POST /volumes` without a source: a blank volume of `size` GiB, as a script's scratch volume.
pub(super) fn blank_volume(w: &mut World, v: &Value) -> Response<Body> {
    let Some(size) = v["size"].as_u64().filter(|s| *s > 0) else {
        return fault(
            400,
            "badRequest",
            "Invalid input received: size must be an integer greater than 0 for a volume without a source",
        );
    };
    created_volume(w, v, size, None, None)
}

/// A volume `POST /volumes` made (blank, from `snapshot` or a clone of `source`): `creating` for
/// the delay, then available; 202 with its detail.
pub(super) fn created_volume(
    w: &mut World,
    v: &Value,
    size: u64,
    snapshot: Option<String>,
    source: Option<String>,
) -> Response<Body> {
    if let Some(refused) =
        super::quota::text_refusal(v).or_else(|| super::quota::over_quota(w, 1, 0, size))
    {
        return refused;
    }
    let vol = Vol {
        id: w.uuid(),
        name: v["name"].as_str().unwrap_or_default().to_string(),
        size,
        in_use: false,
        created_at: w.now(),
        ready_at: w.ready_at(),
        reverting_until: None,
        description: v["description"].as_str().map(str::to_string),
        updated_at: None,
        gone_at: None,
        snapshot_id: snapshot,
        source_volid: source,
        metadata: string_pairs(&v["metadata"]),
    };
    let out = vol_json(&vol);
    w.pvc.vols.push(vol);
    ok(202, json!({ "volume": out }))
}

/// `POST /volumes` with `source_volid`: a clone of a volume that is available or in use, at
/// least as large, as Cinder makes it.
pub(super) fn cloned_volume(w: &mut World, v: &Value, src: &str) -> Response<Body> {
    let now = Instant::now();
    let Some(source) = w.pvc.vols.iter().find(|s| s.id == src) else {
        return fault(
            404,
            "itemNotFound",
            &format!("Volume {src} could not be found."),
        );
    };
    if source.gone_at.is_some() || now < source.ready_at {
        return fault(
            400,
            "badRequest",
            &format!(
                "Invalid volume: Volume {src} status must be available or in-use, but current status is: {}.",
                vol_json(source)["status"].as_str().unwrap_or("unknown")
            ),
        );
    }
    let least = source.size;
    let size = v["size"].as_u64().unwrap_or(least);
    if size < least {
        return fault(
            400,
            "badRequest",
            &format!(
                "Invalid input received: Volume size '{size}'GB cannot be smaller than original volume size {least}GB. They must be >= original volume size."
            ),
        );
    }
    created_volume(w, v, size, None, Some(src.to_string()))
}

/// A JSON object's string values.
pub(super) fn string_pairs(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// `PUT /volumes/{id}`: name, description and metadata (replaced), as Cinder's update takes them.
pub(super) fn update_volume(w: &mut World, req: &Req, i: usize) -> Response<Body> {
    let body = req.json().unwrap_or(json!({}));
    let Some(given) = body["volume"].as_object() else {
        return fault(
            400,
            "badRequest",
            "Missing required element 'volume' in request body.",
        );
    };
    if let Some(extra) = given.keys().find(|k| {
        ![
            "name",
            "description",
            "metadata",
            "display_name",
            "display_description",
        ]
        .contains(&k.as_str())
    }) {
        return fault(
            400,
            "badRequest",
            &format!("Additional properties are not allowed ('{extra}' was unexpected)"),
        );
    }
    if let Some(refused) = super::quota::text_refusal(&body["volume"]) {
        return refused;
    }
    let now = w.now();
    let v = &mut w.pvc.vols[i];
    if let Some(n) = given.get("name").and_then(Value::as_str) {
        v.name = n.to_string();
    }
    if let Some(d) = given.get("description").and_then(Value::as_str) {
        v.description = Some(d.to_string());
    }
    if let Some(meta) = given.get("metadata") {
        v.metadata = string_pairs(meta);
    }
    v.updated_at = Some(now);
    ok(200, json!({ "volume": vol_json(&w.pvc.vols[i]) }))
}

/// `DELETE /volumes/{id}[?cascade=true][&force=true]`: refused for an attached volume (unless
/// forced) and for one with snapshots (unless `cascade`, which deletes them too), with Cinder's
/// message; then `deleting` until the delay has passed.
pub(super) fn delete_volume(w: &mut World, req: &Req, i: usize) -> Response<Body> {
    let cascade = req.query("cascade") == Some("true");
    let force = req.query("force") == Some("true");
    let id = w.pvc.vols[i].id.clone();
    let has_snapshots = w.pvc.snaps.iter().any(|s| s.volume_id == id);
    if (w.pvc.vols[i].in_use && !force) || (has_snapshots && !cascade) {
        return fault(
            400,
            "badRequest",
            "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots or be disassociated from snapshots after volume transfer.",
        );
    }
    let until = w.ready_at();
    for s in w.pvc.snaps.iter_mut().filter(|s| s.volume_id == id) {
        s.gone_at.get_or_insert(until);
    }
    w.pvc.vols[i].gone_at.get_or_insert(until);
    empty(202, &rid())
}

/// `["volumes", id, "action"]`.
pub(super) fn volume_action(w: &mut World, req: &Req, id: &str) -> Response<Body> {
    let body = req.json().unwrap_or(json!({}));
    let Some(sid) = body["revert"]["snapshot_id"].as_str() else {
        return fault(400, "badRequest", "unsupported action");
    };
    if !req
        .header("openstack-api-version")
        .is_some_and(|v| v.starts_with("volume 3.") && v[9..].parse::<u32>().is_ok_and(|n| n >= 40))
    {
        return fault(404, "itemNotFound", "");
    }
    let latest = w
        .pvc
        .snaps
        .iter()
        .filter(|s| s.volume_id == *id)
        .max_by_key(|s| s.created_at)
        .map(|s| s.id.clone());
    if latest.as_deref() != Some(sid) {
        return fault(
            400,
            "badRequest",
            "Revert is only allowed to the latest snapshot.",
        );
    }
    let until = w.ready_at();
    match w.pvc.vols.iter_mut().find(|v| v.id == *id) {
        Some(v) => {
            v.reverting_until = Some(until);
            empty(202, &rid())
        }
        None => fault(
            404,
            "itemNotFound",
            &format!("Volume {id} could not be found."),
        ),
    }
}
