//! NAS-HA: partitions, custom snapshots and snapshot schedules, each change a task.

use super::*;

pub(super) fn task(w: &mut World, operation: &'static str, partition: &str) -> Response<Body> {
    w.ovh.next_task += 1;
    let t = Task {
        id: w.ovh.next_task,
        operation,
        partition: partition.to_string(),
        started: Instant::now(),
    };
    let out = task_json(w, &t);
    w.ovh.tasks.push(t);
    ok(out)
}

pub(super) fn task_json(w: &World, t: &Task) -> Value {
    let elapsed = t.started.elapsed();
    let delay = w.config.delay;
    let status = if elapsed < delay / 3 {
        "todo"
    } else if elapsed < delay {
        "doing"
    } else {
        "done"
    };
    json!({
        "details": null,
        "doneDate": null,
        "lastUpdate": Timestamp::now().to_string(),
        "operation": t.operation,
        "partitionName": t.partition,
        "status": status,
        "storageName": NASHA_SERVICE,
        "taskId": t.id,
        "todoDate": Timestamp::now().to_string(),
    })
}

pub(super) fn nasha(w: &mut World, req: &Req, rest: &[&str]) -> Response<Body> {
    let now = Instant::now();
    w.ovh.customs.retain(|c| c.gone_at.is_none_or(|t| now < t));
    let m = &req.method;
    match rest {
        [] if *m == Method::GET => ok(json!([NASHA_SERVICE])),
        [svc, ..] if *svc != NASHA_SERVICE => not_found("serviceName", svc),
        [_] if *m == Method::GET => ok(json!({
            "canCreatePartition": true, "customName": "nas-demo", "datacenter": "gra",
            "diskType": "hdd", "ip": "127.0.0.1", "monitored": false,
            "serviceName": NASHA_SERVICE, "zpoolCapacity": 12, "zpoolSize": 3000,
        })),
        [_, "task", id] if *m == Method::GET => {
            match w.ovh.tasks.iter().find(|t| t.id.to_string() == *id) {
                Some(t) => ok(task_json(w, t)),
                None => not_found("taskId", id),
            }
        }
        [_, "partition"] if *m == Method::GET => ok(Value::Array(
            w.ovh.partitions.iter().map(|(n, _)| json!(n)).collect(),
        )),
        [_, "partition", part, tail @ ..] => {
            let Some((_, size)) = w.ovh.partitions.iter().find(|(n, _)| n == part).cloned() else {
                return not_found("partitionName", part);
            };
            nasha_partition(w, req, part, size, tail)
        }
        _ => unserved(),
    }
}

pub(super) fn nasha_partition(
    w: &mut World,
    req: &Req,
    part: &str,
    size: u64,
    tail: &[&str],
) -> Response<Body> {
    let m = &req.method;
    let now = Instant::now();
    let visible = |c: &&Custom| c.partition == part && now >= c.visible_at;
    match tail {
        [] if *m == Method::GET => ok(json!({
            "partitionCapacity": 34, "partitionDescription": null, "partitionName": part,
            "protocol": "NFS", "size": size, "usedBySnapshots": 3,
        })),
        ["customSnapshot"] if *m == Method::GET => ok(Value::Array(
            w.ovh
                .customs
                .iter()
                .filter(visible)
                .map(|c| json!(c.name))
                .collect(),
        )),
        ["customSnapshot"] if *m == Method::POST => nasha_custom_create(w, req, part),
        ["customSnapshot", name] => {
            let Some(i) = w
                .ovh
                .customs
                .iter()
                .position(|c| c.partition == part && c.name == *name && now >= c.visible_at)
            else {
                return not_found("name", name);
            };
            match *m {
                Method::GET => {
                    let c = &w.ovh.customs[i];
                    ok(json!({"expiration": c.expiration, "name": c.name}))
                }
                Method::DELETE => {
                    w.ovh.customs[i].gone_at = Some(w.ready_at());
                    task(w, "clusterLeclercCustomSnapDelete", part)
                }
                _ => err(405, "method not allowed", None),
            }
        }
        ["snapshot"] if *m == Method::GET => {
            let set = w
                .ovh
                .schedules
                .iter()
                .find(|(p, _)| p == part)
                .map(|(_, s)| s.iter().cloned().collect::<Vec<_>>())
                .unwrap_or_default();
            ok(json!(set))
        }
        ["snapshot"] if *m == Method::POST => {
            let every = req
                .json()
                .and_then(|b| b["snapshotType"].as_str().map(str::to_string))
                .unwrap_or_default();
            if !FREQUENCIES.contains(&every.as_str()) {
                return err(400, "Invalid snapshotType", None);
            }
            if let Some((_, set)) = w.ovh.schedules.iter_mut().find(|(p, _)| p == part) {
                set.insert(every);
            }
            task(w, "clusterLeclercSnapshotUpdate", part)
        }
        ["snapshot", every] => nasha_schedule(w, req, part, every),
        _ => unserved(),
    }
}

/// `POST …/partition/{name}/customSnapshot`: a task; at most 10 per partition, names unique.
pub(super) fn nasha_custom_create(w: &mut World, req: &Req, part: &str) -> Response<Body> {
    if w.refuse_creates.contains(part) {
        return err(
            409,
            "This partition is busy: another task is in progress",
            Some("Client::Conflict"),
        );
    }
    let Some(body) = req.json() else {
        return err(400, "Invalid JSON body", None);
    };
    let Some(name) = body["name"].as_str() else {
        return err(400, "name is required", None);
    };
    let count = w.ovh.customs.iter().filter(|c| c.partition == part).count();
    if count >= 10 {
        return err(400, "Maximum number of custom snapshots (10) reached", None);
    }
    if w.ovh
        .customs
        .iter()
        .any(|c| c.partition == part && c.name == name)
    {
        return err(409, "A snapshot with this name already exists", None);
    }
    w.ovh.customs.push(Custom {
        partition: part.to_string(),
        name: name.to_string(),
        expiration: body["expiration"].as_str().map(str::to_string),
        visible_at: w.ready_at(),
        gone_at: None,
    });
    task(w, "clusterLeclercCustomSnapCreate", part)
}

/// `…/partition/{name}/snapshot/{snapshotType}`: one schedule.
pub(super) fn nasha_schedule(w: &mut World, req: &Req, part: &str, every: &str) -> Response<Body> {
    let m = &req.method;
    let has = w
        .ovh
        .schedules
        .iter()
        .any(|(p, s)| p == part && s.contains(every));
    if !has {
        return not_found("snapshotType", every);
    }
    match *m {
        Method::GET => ok(json!({"snapshotType": every})),
        Method::DELETE => {
            if let Some((_, set)) = w.ovh.schedules.iter_mut().find(|(p, _)| p == part) {
                set.remove(every);
            }
            task(w, "clusterLeclercSnapshotUpdate", part)
        }
        _ => err(405, "method not allowed", None),
    }
}
