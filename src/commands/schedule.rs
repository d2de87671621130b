//! `schedule list|add|remove`: provider-side snapshot schedules and policies.

use super::*;

/// Run one `schedule` subcommand.
pub(super) async fn dispatch(ctx: &Ctx, settings: &Settings, cmd: ScheduleCmd) -> Result<()> {
    let p = ctx.provider.as_ref();
    match cmd {
        ScheduleCmd::List {
            volume,
            all,
            select,
        } => {
            let sel = super::selection(crate::select::Items::Schedules, &select)?;
            let mut list: Vec<_> = p
                .list_schedules(&volume, all)
                .await?
                .into_iter()
                .filter(|s| sel.keeps(s))
                .collect();
            sel.sort(&mut list);
            list.truncate(sel.limit.unwrap_or(usize::MAX));
            ctx.print(&render_list(&list, ctx.format))
        }
        ScheduleCmd::Add(a) => {
            let spec = schedule_spec(&a)?;
            let would = Mutation::AddSchedule {
                volume: &a.volume,
                spec: &spec,
            }
            .describe();
            mutating(ctx, would, async {
                let change = p.add_schedule(&a.volume, &spec).await?;
                finish_schedule_change(ctx, settings, &change, a.wait, &a.volume).await
            })
            .await
        }
        ScheduleCmd::Remove {
            volume,
            every,
            to,
            wait,
        } => {
            let removal = ScheduleRemoval { every, to };
            let would = Mutation::RemoveSchedule {
                volume: &volume,
                removal: &removal,
            }
            .describe();
            mutating(ctx, would, async {
                let change = p.remove_schedule(&volume, &removal).await?;
                finish_schedule_change(ctx, settings, &change, wait, &volume).await
            })
            .await
        }
    }
}

async fn finish_schedule_change(
    ctx: &Ctx,
    settings: &Settings,
    change: &ScheduleChange,
    wait: bool,
    volume: &str,
) -> Result<()> {
    let p = ctx.provider.as_ref();
    for note in &change.notes {
        ctx.info(note);
    }
    if wait {
        wait_for(p, &change.op, &ctx.wait).await?;
    } else {
        ctx.follow_up(settings, &change.op);
    }
    ctx.print(&render_list(
        &p.list_schedules(volume, false).await?,
        ctx.format,
    ))
}

/// `schedule add` flags → the provider-neutral spec (`--prefix/--keep/--cron` is one rule,
/// each `--rule PREFIX:KEEP:CRON` another).
fn schedule_spec(a: &crate::cli::ScheduleAddArgs) -> Result<ScheduleSpec> {
    let mut rules = Vec::new();
    if let (Some(prefix), Some(keep)) = (&a.prefix, a.keep) {
        rules.push(RuleSpec {
            prefix: prefix.clone(),
            keep,
            cron: a.cron.clone().unwrap_or_default(),
        });
    }
    for r in &a.rules {
        let mut parts = r.splitn(3, ':');
        let (Some(prefix), Some(keep), Some(cron)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::InvalidInput {
                what: "--rule",
                value: r.clone(),
                reason: "expected PREFIX:KEEP:CRON, e.g. 'daily:7:30 2 * * *'".into(),
            });
        };
        let keep = keep.parse().map_err(|_| Error::InvalidInput {
            what: "--rule",
            value: r.clone(),
            reason: format!("{keep:?} is not a number of copies"),
        })?;
        rules.push(RuleSpec {
            prefix: prefix.to_string(),
            keep,
            cron: cron.to_string(),
        });
    }
    Ok(ScheduleSpec {
        every: a.every.clone(),
        at: a.at.clone(),
        rules,
        name: a.name.clone(),
    })
}
