//! `clone` (from a snapshot, or from volumes as they are now) and `revert`.

use super::cli::*;
use super::*;
use clap::Args;

pub(super) async fn clone(ctx: &Ctx, settings: &Settings, args: CloneArgs) -> Result<()> {
    let p = ctx.provider.as_ref();
    let snapshot = match args.snapshot {
        Some(s) => {
            if args.volumes.len() > 1 {
                return Err(Error::usage(
                    "a clone from --snapshot takes at most one --volume (the snapshot's)",
                ));
            }
            s
        }
        None => {
            // Clone the volume(s) as they are now: a provider with a direct (consistent) clone
            // does it in one task; otherwise take a manual snapshot, wait for it, and clone that.
            let req = CloneVolumesRequest {
                volumes: args.volumes.clone(),
                name: args.name.clone(),
                description: args.description.clone(),
                volume_type: args.volume_type.clone(),
            };
            let would = Mutation::CloneVolumes(&req).describe();
            let direct = mutating(ctx, would, async {
                let op = p.clone_volumes(&req).await?;
                finish_clone_volumes(ctx, settings, &op, args.wait).await
            })
            .await;
            match direct {
                Err(Error::Unsupported { .. }) if args.volumes.len() == 1 => {}
                other => return other,
            }
            let volume = args.volumes[0].clone();
            if entry(p.kind()).capabilities.clone == crate::kind::Support::No {
                // Refused before the snapshot it would be made from: nothing is left behind.
                return Err(Error::Unsupported {
                    provider: p.kind(),
                    operation: "clone",
                    hint: format!(
                        "the {} API cannot make a volume from a snapshot; take one (snapctl -p {} snapshot create --volume {volume} --name NAME), then `snapctl -p {} clone --volume {volume} --snapshot NAME` says how to copy it by hand",
                        entry(p.kind()).product,
                        p.kind(),
                        p.kind()
                    ),
                });
            }
            let would = format!(
                "take a snapshot of {volume}, wait until it is usable, then create a new volume from it"
            );
            let mut base = None;
            mutating(ctx, would, async {
                base = Some(snapshot_for_clone(ctx, &volume).await?);
                Ok(())
            })
            .await?;
            match base {
                Some(id) => id,
                // Dry run: the first change was reported.
                None => return Ok(()),
            }
        }
    };
    let req = CloneRequest {
        volume: args.volumes.into_iter().next(),
        snapshot,
        name: args.name,
        description: args.description,
        size_gib: args.size,
        subregion: args.subregion,
        volume_type: args.volume_type,
        iops: args.iops,
        tags: vec![],
        like_source: false,
        idempotency_key: None,
    };
    mutating(ctx, Mutation::Clone(&req).describe(), async {
        let (volume, op) = p.clone_volume(&req).await?;
        let volume = if args.wait {
            wait_for(p, &op, &ctx.wait).await?;
            p.get_volume(&volume.id).await?
        } else {
            volume
        };
        ctx.print(&render_one(&volume, ctx.format))
    })
    .await
}

/// `clone --volume` without a direct clone: take a manual snapshot and wait until it is usable.
async fn snapshot_for_clone(ctx: &Ctx, volume: &str) -> Result<String> {
    let p = ctx.provider.as_ref();
    let name = format!(
        "{}{}",
        crate::engine::retention::CLONE_BASE_PREFIX,
        crate::model::stamp(jiff::Timestamp::now())
    );
    let req = CreateSnapshot {
        volume: volume.to_string(),
        name: Some(name.clone()),
        description: Some(crate::engine::retention::CLONE_BASE_DESCRIPTION.into()),
        ..CreateSnapshot::default()
    };
    let (snap, op) = create_snapshot_once(p, &req).await?;
    ctx.info(&format!("took snapshot {} ({name}) of {volume}", snap.id));
    wait_for(p, &op, &ctx.wait).await?;
    Ok(snap.id)
}

async fn finish_clone_volumes(
    ctx: &Ctx,
    settings: &Settings,
    op: &Operation,
    wait: bool,
) -> Result<()> {
    let p = ctx.provider.as_ref();
    let Operation::Task { id } = op else {
        return Ok(());
    };
    if !wait {
        ctx.follow_up(settings, op);
        return ctx.print(&crate::output::render_task_id(id, ctx.format));
    }
    wait_for(p, op, &ctx.wait).await?;
    ctx.print(&render_list(&p.clone_results(id).await?, ctx.format))
}

pub(super) async fn revert(ctx: &Ctx, settings: &Settings, args: RevertArgs) -> Result<()> {
    let p = ctx.provider.as_ref();
    // A dry run is how one previews a revert before confirming it: no prompt under --dry-run.
    if !args.yes && !ctx.dry_run {
        confirm_revert(settings.provider, &args.volume, &args.snapshot)?;
    }
    let would = Mutation::Revert {
        volume: &args.volume,
        snapshot: &args.snapshot,
    }
    .describe();
    mutating(ctx, would, async {
        let op = p.revert(&args.volume, &args.snapshot).await?;
        if args.wait {
            wait_for(p, &op, &ctx.wait).await?;
        } else if let Operation::Volume {
            until: Until::Ready,
            ..
        } = op
        {
            ctx.info(&format!(
                "revert of {} started; follow it with: snapctl volume show {}",
                args.volume, args.volume
            ));
        }
        ctx.print(&render_one(&p.get_volume(&args.volume).await?, ctx.format))
    })
    .await
}

/// Without `--yes`: ask on a terminal, refuse (exit 9) otherwise.
fn confirm_revert(kind: ProviderKind, volume: &str, snapshot: &str) -> Result<()> {
    let refused = || Error::Refused {
        reason: format!(
            "revert is destructive: everything written to {volume} since snapshot {snapshot} is lost"
        ),
        hint: Some(format!(
            "run again with --yes to confirm: snapctl -p {kind} revert --volume {volume} --snapshot {snapshot} --yes"
        )),
    };
    confirm(
        &format!(
            "Revert {volume} to snapshot {snapshot}? Data written since the snapshot is lost. Type 'yes' to go on: "
        ),
        refused,
    )
}

/// `clone …`
#[derive(Debug, Args)]
pub struct CloneArgs {
    /// Volume the snapshot belongs to; without --snapshot, the volume(s) to clone as they are now
    /// (PowerVC: repeat for one consistent copy of several volumes).
    #[arg(
        long = "volume",
        value_name = "ID",
        required_unless_present = "snapshot"
    )]
    pub volumes: Vec<String>,
    /// Snapshot to clone.
    #[arg(long)]
    pub snapshot: Option<String>,
    /// Where to create the volume (OUTSCALE subregion, e.g. eu-west-2a) [default: the source's].
    #[arg(long)]
    pub subregion: Option<String>,
    /// Volume type (OUTSCALE: standard, gp2, io1; PowerVC: a volume type name or id).
    #[arg(long)]
    pub volume_type: Option<String>,
    /// Provisioned IOPS (OUTSCALE io1).
    #[arg(long, value_parser = positive::<u32>, allow_negative_numbers = true)]
    pub iops: Option<u32>,
    /// Name of the new volume.
    #[arg(long)]
    pub name: Option<String>,
    /// Description of the new volume.
    #[arg(long)]
    pub description: Option<String>,
    /// Size of the new volume in GiB [default: the parent volume's].
    #[arg(long, value_name = "GIB", value_parser = positive::<u64>, allow_negative_numbers = true)]
    pub size: Option<u64>,
    /// Wait until the new volume is available.
    #[arg(long)]
    pub wait: bool,
}

/// `revert …`
#[derive(Debug, Args)]
pub struct RevertArgs {
    /// Volume to revert.
    #[arg(long)]
    pub volume: String,
    /// Snapshot to revert to.
    #[arg(long)]
    pub snapshot: String,
    /// Confirm: data written since the snapshot is lost.
    #[arg(long)]
    pub yes: bool,
    /// Wait until the volume is available again.
    #[arg(long)]
    pub wait: bool,
}
