//! `schedule list|add|remove`: provider-side snapshot schedules and policies.
//!
//! The argument docs are `--help` texts, where `<name>` is a placeholder, not HTML.
#![allow(rustdoc::invalid_html_tags)]

use super::cli::*;
use super::*;
use clap::{Args, Subcommand};

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
fn schedule_spec(a: &crate::commands::cli::ScheduleAddArgs) -> Result<ScheduleSpec> {
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

/// `schedule …`
#[derive(Debug, Subcommand)]
pub enum ScheduleCmd {
    /// List the schedules of a volume.
    List {
        /// Volume id.
        #[arg(long)]
        volume: String,
        /// Also the service's other policies (EFS).
        #[arg(long)]
        all: bool,
        /// What to print (name and state filters, sort by name, id or state).
        #[command(flatten)]
        select: SelectArgs,
    },
    /// Enable a schedule (NAS-HA: a frequency; EFS: a snapshot policy attached to the share).
    Add(ScheduleAddArgs),
    /// Disable a schedule (NAS-HA: a frequency; EFS: attach the default policy instead).
    Remove {
        /// Volume id.
        #[arg(long)]
        volume: String,
        /// Frequency to disable (NAS-HA).
        #[arg(long)]
        every: Option<String>,
        /// Policy to attach instead of the service's default (EFS).
        #[arg(long, value_name = "POLICY_ID")]
        to: Option<String>,
        /// Wait until the change is applied.
        #[arg(long)]
        wait: bool,
    },
}

/// `schedule add …`
#[derive(Debug, Args)]
pub struct ScheduleAddArgs {
    /// Volume id.
    #[arg(long)]
    pub volume: String,
    /// NAS-HA: hour-1, hour-6, day-1, day-2, day-3, day-7. EFS shorthand: hour, day, week.
    #[arg(long)]
    pub every: Option<String>,
    /// Time for the EFS shorthand: HH:MM (or :MM hourly); weekly means Sundays.
    #[arg(long, value_name = "HH:MM")]
    pub at: Option<String>,
    /// EFS: name prefix of the snapshots the rule takes.
    #[arg(long, requires = "keep")]
    pub prefix: Option<String>,
    /// EFS: how many of them the rule keeps.
    #[arg(long, value_name = "N", requires = "prefix", value_parser = count::<u32>, allow_negative_numbers = true)]
    pub keep: Option<u32>,
    /// EFS: when, as 'MIN HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK' (e.g. '30 2 * * *').
    #[arg(long, requires = "prefix", conflicts_with = "every")]
    pub cron: Option<String>,
    /// EFS: a whole rule 'PREFIX:KEEP:CRON' (repeatable, 4 rules at most per policy).
    #[arg(long = "rule", value_name = "PREFIX:KEEP:CRON")]
    pub rules: Vec<String>,
    /// EFS: policy name [default: snapctl-<share>-<UTC time>].
    #[arg(long)]
    pub name: Option<String>,
    /// Wait until the change is applied.
    #[arg(long)]
    pub wait: bool,
}
