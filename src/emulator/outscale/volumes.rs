//! Volumes: listed, created (blank, or from a snapshot), grown, deleted.

use super::*;

/// `ReadVolumes`.
pub(super) fn read_volumes(w: &mut World, body: &Value) -> Response<Body> {
    let wanted = match filters(body, VOLUME_FILTERS) {
        Ok(f) => f,
        Err(refused) => return *refused,
    };
    let ids = filter(body, "VolumeIds");
    let items: Vec<Value> = w
        .osc
        .volumes
        .iter()
        .filter(|v| ids.as_ref().is_none_or(|ids| ids.contains(&v.id)))
        .map(|v| volume_json(w, v))
        .filter(|v| passes(v, &wanted))
        .collect();
    page(body, &items, "Volumes", Value::clone)
}

pub(super) fn create_volume(w: &mut World, body: &Value, dry: bool) -> Response<Body> {
    if let Some(token) = body["ClientToken"].as_str()
        && let Some(id) = w.osc.tokens.get(token)
        && let Some(v) = w.osc.volumes.iter().find(|v| &v.id == id)
    {
        return ok(json!({"Volume": volume_json(w, v)}));
    }
    let Some(subregion) = body["SubregionName"].as_str().map(str::to_string) else {
        return err(400, "7000", "MissingParameter", "SubregionName is required");
    };
    let snapshot = body["SnapshotId"].as_str().map(str::to_string);
    let min = match &snapshot {
        Some(id) => match w.osc.snaps.iter().find(|s| &s.id == id) {
            Some(s) if Instant::now() >= s.ready_at => s.size,
            Some(_) => return err(409, "6003", "InvalidState", "the snapshot is not completed"),
            None => {
                return missing("SnapshotId", id);
            }
        },
        None => 1,
    };
    let size = body["Size"].as_u64().unwrap_or(min);
    if size < min {
        return err(
            400,
            "4125",
            "InvalidParameterValue",
            "the volume is smaller than the snapshot",
        );
    }
    if dry {
        return ok(json!({}));
    }
    let vol = OscVolume {
        id: format!("vol-{}", w.hex8()),
        size,
        subregion,
        created_at: w.now(),
        ready_at: w.ready_at(),
        in_use: false,
        snapshot_id: snapshot,
        token: body["ClientToken"].as_str().map(str::to_string),
    };
    if let Some(token) = body["ClientToken"].as_str() {
        w.osc.tokens.insert(token.to_string(), vol.id.clone());
    }
    let out = volume_json(w, &vol);
    w.osc.volumes.push(vol);
    ok(json!({"Volume": out}))
}

/// `UpdateVolume`.
pub(super) fn update_volume(w: &mut World, body: &Value, dry: bool) -> Response<Body> {
    let id = body["VolumeId"].as_str().unwrap_or_default().to_string();
    let Some(i) = w.osc.volumes.iter().position(|v| v.id == id) else {
        return missing("VolumeId", &id);
    };
    if let Some(size) = body["Size"].as_u64() {
        // A volume only grows (UpdateVolume: "the new size must be greater").
        if size < w.osc.volumes[i].size {
            return err(
                400,
                "4078",
                "InvalidParameterValue",
                "the new size must be greater than the current one",
            );
        }
        if !dry {
            w.osc.volumes[i].size = size;
        }
    }
    if dry {
        return ok(json!({}));
    }
    ok(json!({"Volume": volume_json(w, &w.osc.volumes[i])}))
}

/// `DeleteVolume`.
pub(super) fn delete_volume(w: &mut World, body: &Value, dry: bool) -> Response<Body> {
    let id = body["VolumeId"].as_str().unwrap_or_default().to_string();
    let Some(i) = w.osc.volumes.iter().position(|v| v.id == id) else {
        return missing("VolumeId", &id);
    };
    if w.osc.volumes[i].in_use {
        return err(
            409,
            "6007",
            "InvalidState",
            &format!("The volume '{id}' is in use (linked to a VM)."),
        );
    }
    if !dry {
        // Its snapshots stay: OUTSCALE keeps them when their volume goes.
        w.osc.volumes.remove(i);
        w.osc.tags.remove(&id);
    }
    ok(json!({}))
}
