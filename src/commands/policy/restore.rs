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
    if let Some(region) = &a.region {
        return from_copy(f, &a, c, p.scope(), region, at).await;
    }
    let source = p.get_volume(&a.volume).await?;
    if !c.selects(&source) {
        return Err(Error::usage(format!(
            "policy {} does not select volume {}: its snapshots are not the policy's to restore",
            c.policy.id, a.volume
        )));
    }
    let snapshots = p.list_snapshots(Some(&a.volume)).await?;
    let Some(point) = fleet::restore_point(&c.policy.id, &snapshots, at) else {
        return Err(nothing_before(p.kind(), &a, &c.policy.id, at, ""));
    };
    let snap = point.snapshot;
    let size = snap.size_gib.or(source.size_gib);
    let made = Made {
        from: &snap.id,
        tick: point.tick,
        region: None,
    };
    let would = format!(
        "restore volume {} as of {at}: a new volume {:?}{} from snapshot {} (policy {}, tick {})",
        a.volume,
        a.name,
        size.map(|s| format!(" of {s} GiB")).unwrap_or_default(),
        snap.id,
        c.policy.id,
        point.tick
    );
    let req = CloneRequest {
        volume: Some(a.volume.clone()),
        snapshot: snap.id.clone(),
        like_source: true,
        ..CloneRequest::default()
    };
    make(f, &a, c, p, req, &would, made).await
}

/// What a restore is made from, for its output.
struct Made<'a> {
    /// The snapshot (or the copy in another Region).
    from: &'a str,
    /// The tick it answers.
    tick: jiff::Timestamp,
    /// The other Region, for a restore from a copy.
    region: Option<&'a str>,
}

/// `--region`: the policy's newest complete copy there of the volume's snapshots answering a
/// tick at or before `at`, made into a volume with that destination's profile. The source Region
/// is not asked anything (it may be the one that is down).
async fn from_copy(
    f: &Fleet<'_>,
    a: &crate::commands::cli::PolicyRestoreArgs,
    c: &fleet::Compiled,
    from: String,
    region: &str,
    at: jiff::Timestamp,
) -> Result<u8> {
    let dst = match fleet::copy_destination(c, region) {
        None => {
            return Err(Error::usage(format!(
                "policy {} copies nothing to {region}: its copy destinations are {}",
                c.policy.id,
                c.copies
                    .iter()
                    .map(|d| d.region.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Some(Err(why)) => {
            return Err(Error::Config {
                message: format!("copy destination {region}: {why}"),
                hint: None,
            });
        }
        Some(Ok(dst)) => dst,
    };
    let Some(point) =
        fleet::copy_restore_point(dst.as_ref(), (&c.policy.id, &from), &a.volume, at).await?
    else {
        return Err(nothing_before(
            dst.kind(),
            a,
            &c.policy.id,
            at,
            &format!(" in {region}"),
        ));
    };
    let subregion = a.subregion.clone().unwrap_or_else(|| format!("{region}a"));
    let would = format!(
        "restore volume {} as of {at} in {region}: a new volume {:?} in {subregion} from copy {} of snapshot {} (policy {}, tick {})",
        a.volume, a.name, point.copy_id, point.of, c.policy.id, point.tick
    );
    let req = CloneRequest {
        snapshot: point.copy_id.clone(),
        subregion: Some(subregion),
        ..CloneRequest::default()
    };
    let made = Made {
        from: &point.copy_id,
        tick: point.tick,
        region: Some(region),
    };
    make(f, a, c, dst.as_ref(), req, &would, made).await
}

/// No snapshot (or copy) of the policy answers a tick at or before `at`: exit 4.
fn nothing_before(
    kind: ProviderKind,
    a: &crate::commands::cli::PolicyRestoreArgs,
    policy: &str,
    at: jiff::Timestamp,
    place: &str,
) -> Error {
    Error::NotFound(Box::new(crate::error::ApiError {
        provider: kind,
        action: format!("restore volume {} as of {at}{place}", a.volume),
        status: 404,
        code: None,
        message: format!(
            "no usable snapshot of policy {policy} answers a tick at or before {at}{place}"
        ),
        request_id_header: "",
        request_id: None,
        hint: Some(format!(
            "snapctl policy plan -f {} --policy {policy} lists what the policy holds",
            a.file.display()
        )),
    }))
}

/// Say what will be made (stop there on a dry run), make it, wait until it is usable, print it.
async fn make(
    f: &Fleet<'_>,
    a: &crate::commands::cli::PolicyRestoreArgs,
    c: &fleet::Compiled,
    p: &dyn crate::provider::Provider,
    mut req: CloneRequest,
    would: &str,
    made: Made<'_>,
) -> Result<u8> {
    let g = f.g;
    if g.dry_run {
        eprintln!("dry run: would {would}; nothing sent");
        return Ok(0);
    }
    if !g.quiet {
        eprintln!("{would}");
    }
    req.name = Some(a.name.clone());
    req.description = Some(format!(
        "restored by snapctl from {} of {} (policy {}, tick {})",
        made.from, a.volume, c.policy.id, made.tick
    ));
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
        "snapshot_id": made.from,
        "region": made.region,
        "tick": made.tick.to_string(),
        "policy": c.policy.id,
        "reach": reach.iter().map(|(k, v)| (k.to_string(), v.clone())).collect::<BTreeMap<_, _>>(),
    });
    let text = match g.output {
        Format::Json => crate::output::json(&out),
        _ => {
            let mut t = format!(
                "restored {} ({}) from {} (tick {}) of {}{}\n",
                flat(&volume.id),
                flat(volume.name.as_deref().unwrap_or("-")),
                flat(made.from),
                made.tick,
                flat(&a.volume),
                made.region.map(|r| format!(", in {r}")).unwrap_or_default()
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
