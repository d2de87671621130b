//! PowerVC's consistent clone of several volumes: the task and its progress.

use super::*;

/// `["clone-volumes"]`.
pub(super) fn start_clone_volumes(w: &mut World, req: &Req) -> Response<Body> {
    let body = req.json().unwrap_or(json!({}));
    let c = &body["clone-volumes"];
    let ids: Vec<String> = strings(&c["volumes"]);
    if ids.is_empty() {
        return fault(400, "badRequest", "volumes is required");
    }
    let display = c["display-name"].as_str().map(str::to_string);
    // The clones count against the quota like any volume, all of them at once.
    let gigabytes = ids
        .iter()
        .filter_map(|id| w.pvc.vols.iter().find(|v| &v.id == id))
        .map(|v| v.size)
        .fold(0u64, u64::saturating_add);
    if let Some(refused) = quota::over_quota(w, ids.len(), 0, gigabytes) {
        return refused;
    }
    let mut pairs = Vec::new();
    for (i, src) in ids.iter().enumerate() {
        let Some(v) = w.pvc.vols.iter().find(|v| &v.id == src) else {
            return fault(
                404,
                "itemNotFound",
                &format!("Volume {src} could not be found."),
            );
        };
        let name = match (&display, ids.len()) {
            (Some(d), 1) => format!("clone-{d}"),
            (Some(d), _) => format!("clone-{d}-{}", i + 1),
            (None, 1) => format!("clone-{}", v.name),
            (None, _) => String::new(),
        };
        let size = v.size;
        let id = w.uuid();
        let ready_at = w.ready_at();
        let created_at = w.now();
        w.pvc.vols.push(Vol {
            name: if name.is_empty() {
                format!("volume-{id}")
            } else {
                name
            },
            id: id.clone(),
            size,
            in_use: false,
            created_at,
            ready_at,
            reverting_until: None,
            description: None,
            updated_at: None,
            gone_at: None,
            snapshot_id: None,
            source_volid: None,
            metadata: BTreeMap::new(),
        });
        pairs.push((src.clone(), id));
    }
    let task = CloneTask {
        id: w.uuid(),
        started: Instant::now(),
        pairs,
    };
    let uri = format!(
        "https://powervc.invalid:9000/v3/{PVC_PROJECT}/clone-volumes/get_progress?action=clone-volumes&task_id={}",
        task.id
    );
    w.pvc.clones.push(task);
    ok(200, json!({"clone-volumes": {"task_uri": uri}}))
}

/// `["clone-volumes", "get_progress"]`.
pub(super) fn clone_progress(w: &mut World, req: &Req) -> Response<Body> {
    let id = req.query("task_id").unwrap_or_default();
    let Some(t) = w.pvc.clones.iter().find(|t| t.id == id) else {
        return fault(
            404,
            "itemNotFound",
            &format!("Task {id} could not be found."),
        );
    };
    let delay = w.config.delay.as_millis().max(1);
    let elapsed = t.started.elapsed().as_millis();
    let progress = (elapsed * 100 / delay).min(100);
    let done = progress >= 100;
    let results: serde_json::Map<String, Value> = if done {
        t.pairs.iter().map(|(s, c)| (s.clone(), json!(c))).collect()
    } else {
        serde_json::Map::new()
    };
    ok(
        200,
        json!({"details": {
            "results": results,
            "completed_tasks": {"_TaskFlow_INJECTOR": "SUCCESS"},
            "pending_tasks": {},
            "progress": progress,
            "flow_details": {"cloneFlow": if done { "SUCCESS" } else { "RUNNING" }},
        }}),
    )
}
