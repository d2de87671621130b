//! `policy restore`: a new volume from the policy's snapshot that answered a point in time (issue
//! 43 §1). What it makes is the user's: no drill or policy mark, so nothing of snapctl's ever
//! deletes it.

use super::*;

pub(super) async fn restore(
    f: &Fleet<'_>,
    a: crate::commands::cli::PolicyRestoreArgs,
) -> Result<u8> {
    let (g, env) = (f.g, &f.env);
    if a.name.trim().is_empty()
        || a.name.starts_with("snapctl-drill.")
        || a.name.starts_with("snapctl.")
    {
        return Err(Error::usage(format!(
            "--name {:?}: name the new volume (not empty, not in snapctl's own snapshot.* or snapctl-drill.* names: a restored volume is yours)",
            a.name
        )));
    }
    let loaded = load(g, &file_only(&a.file, vec![a.policy.clone()]), env, false).await?;
    let c = &loaded.compiled[loaded.chosen[0]];
    let (targets, errors) = orphans::distinct(connect_all(f, &loaded).await);
    let Some(target) = targets.into_iter().next() else {
        return Err(Error::Config {
            message: format!("policy {}: {}", c.policy.id, errors.join("; ")),
            hint: None,
        });
    };
    let p = target.provider.as_ref();
    let at = a.at.unwrap_or_else(jiff::Timestamp::now);
    let source = p.get_volume(&a.volume).await?;
    if !c.selects(&source) {
        return Err(Error::usage(format!(
            "policy {} does not select volume {}: its snapshots are not the policy's to restore",
            c.policy.id, a.volume
        )));
    }
    let snapshots = p.list_snapshots(Some(&a.volume)).await?;
    let Some(point) = fleet::restore_point(&c.policy.id, &snapshots, at) else {
        return Err(Error::NotFound(Box::new(crate::error::ApiError {
            provider: p.kind(),
            action: format!("restore volume {} as of {at}", a.volume),
            status: 404,
            code: None,
            message: format!(
                "no usable snapshot of policy {} answers a tick at or before {at}",
                c.policy.id
            ),
            request_id_header: "",
            request_id: None,
            hint: Some(format!(
                "snapctl policy plan -f {} --policy {} lists what the policy holds",
                a.file.display(),
                c.policy.id
            )),
        })));
    };
    let snap = point.snapshot;
    let size = snap.size_gib.or(source.size_gib);
    let would = format!(
        "restore volume {} as of {at}: a new volume {:?}{} from snapshot {} (policy {}, tick {})",
        a.volume,
        a.name,
        size.map(|s| format!(" of {s} GiB")).unwrap_or_default(),
        snap.id,
        c.policy.id,
        point.tick
    );
    if g.dry_run {
        eprintln!("dry run: would {would}; nothing sent");
        return Ok(0);
    }
    if !g.quiet {
        eprintln!("{would}");
    }
    let req = CloneRequest {
        volume: Some(a.volume.clone()),
        snapshot: snap.id.clone(),
        name: Some(a.name.clone()),
        description: Some(format!(
            "restored by snapctl from snapshot {} of {} (policy {}, tick {})",
            snap.id, a.volume, c.policy.id, point.tick
        )),
        like_source: true,
        ..CloneRequest::default()
    };
    let (volume, op) = p.clone_volume(&req).await?;
    let wait = WaitOptions::new(
        g.timeout.unwrap_or(crate::config::DEFAULT_TIMEOUT),
        g.poll_interval,
        g.quiet,
    );
    crate::wait::wait_for(p, &op, &wait).await?;
    let volume = p.get_volume(&volume.id).await?;
    // How to reach it is a nicety: a provider that cannot say still made the volume.
    let reach = p.reach(&volume.id).await.unwrap_or_default();
    let out = serde_json::json!({
        "volume_id": volume.id,
        "name": volume.name,
        "size_gib": volume.size_gib,
        "state": volume.state,
        "source_volume_id": a.volume,
        "snapshot_id": snap.id,
        "tick": point.tick.to_string(),
        "policy": c.policy.id,
        "reach": reach.iter().map(|(k, v)| (k.to_string(), v.clone())).collect::<BTreeMap<_, _>>(),
    });
    let text = match g.output {
        Format::Json => crate::output::json(&out),
        _ => {
            let mut t = format!(
                "restored {} ({}) from snapshot {} (tick {}) of {}\n",
                flat(&volume.id),
                flat(volume.name.as_deref().unwrap_or("-")),
                flat(&snap.id),
                point.tick,
                flat(&a.volume)
            );
            for (k, v) in &reach {
                let _ = writeln!(t, "  {k}: {}", flat(v));
            }
            t
        }
    };
    f.print(&text)?;
    Ok(0)
}
