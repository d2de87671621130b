//! Snapshot export tasks: to an OOS bucket of the account, each writing its image when done.

use super::*;

/// Completed exports leave their image in the bucket: `<OsuPrefix><snapshot id>.<format>`.
pub(super) fn settle_exports(w: &mut World) {
    let delay = w.config.delay;
    let st = &mut w.osc;
    for e in st.exports.iter_mut().filter(|e| !e.written) {
        if e.started.elapsed() < delay {
            continue;
        }
        e.written = true;
        let gib = st
            .snaps
            .iter()
            .find(|s| s.id == e.snapshot)
            .map_or(1, |s| s.size);
        let key = format!(
            "{}{}.{}",
            e.prefix.as_deref().unwrap_or(""),
            e.snapshot,
            e.format
        );
        if let Some(b) = st.buckets.get_mut(&e.bucket) {
            // A qcow2 image of a mostly empty volume: a fraction of its size.
            b.insert(
                key,
                crate::emulator::oos::StoredObj {
                    size: (gib << 30) / 8,
                    original: gib << 30,
                    body: None,
                },
            );
        }
    }
}

/// `CreateSnapshotExportTask`.
pub(super) fn create_snapshot_export_task(
    w: &mut World,
    body: &Value,
    dry: bool,
) -> Response<Body> {
    let id = body["SnapshotId"].as_str().unwrap_or_default().to_string();
    if !w.osc.snaps.iter().any(|s| s.id == id) {
        return missing("SnapshotId", &id);
    }
    let bucket = body["OsuExport"]["OsuBucket"].as_str().unwrap_or_default();
    if !w.osc.buckets.contains_key(bucket) {
        return err(
            400,
            "4045",
            "InvalidParameterValue",
            &format!("The bucket '{bucket}' does not exist or does not belong to you."),
        );
    }
    let export = Export {
        id: format!("snap-export-{}", w.hex8()),
        snapshot: id,
        bucket: body["OsuExport"]["OsuBucket"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        prefix: body["OsuExport"]["OsuPrefix"].as_str().map(str::to_string),
        format: body["OsuExport"]["DiskImageFormat"]
            .as_str()
            .unwrap_or("qcow2")
            .to_string(),
        started: Instant::now(),
        written: false,
    };
    let out = export_json(w, &export);
    if !dry {
        w.osc.exports.push(export);
    }
    ok(json!({"SnapshotExportTask": out}))
}

/// `ReadSnapshotExportTasks`.
pub(super) fn read_snapshot_export_tasks(w: &mut World, body: &Value) -> Response<Body> {
    let ids = filter(body, "TaskIds");
    let snaps = filter(body, "SnapshotIds");
    let items: Vec<Value> = w
        .osc
        .exports
        .iter()
        .filter(|e| ids.as_ref().is_none_or(|ids| ids.contains(&e.id)))
        .filter(|e| snaps.as_ref().is_none_or(|s| s.contains(&e.snapshot)))
        .map(|e| export_json(w, e))
        .collect();
    page(body, &items, "SnapshotExportTasks", Value::clone)
}

pub(super) fn export_json(w: &World, e: &Export) -> Value {
    let done = e.started.elapsed() >= w.config.delay;
    // `OsuPrefix` is a string in the schema: an export without one leaves the key out.
    let mut osu = json!({"DiskImageFormat": e.format, "OsuBucket": e.bucket});
    if let Some(prefix) = &e.prefix {
        osu["OsuPrefix"] = json!(prefix);
    }
    json!({
        "Comment": "",
        "OsuExport": osu,
        "Progress": if done { 100 } else { 50 },
        "SnapshotId": e.snapshot,
        "State": if done { "completed" } else { "uploading" },
        "Tags": [],
        "TaskId": e.id,
    })
}
