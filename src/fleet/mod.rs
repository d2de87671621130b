//! Fleet mode: snapshot policies as code (`snapctl policy …`). The file ([`file`](mod@file)) says which
//! volumes, how often and what to keep; [`mark`] is how a policy knows its own snapshots;
//! [`plan`] decides per policy and volume what to create, delete and keep (no I/O); [`engine`]
//! carries units out (every change `rotate` and `policy apply` make goes through it) and
//! [`outcome`] says what became of each; [`run`] reads the clouds and applies a plan; [`report`]
//! writes the metrics and the files; [`orphans`] finds what no policy manages and adopts
//! `rotate`'s snapshots; [`rotate`] is the `rotate` command as a one-policy run of the engine;
//! [`drill`] restores snapshots to prove they work and [`copy`] copies them to other Regions.

pub mod atomic;
pub mod cadence;
pub mod copy;
pub mod coverage;
pub mod drill;
pub mod engine;
pub mod file;
pub mod hook;
pub mod mark;
pub mod orphans;
pub mod outcome;
pub mod plan;
pub mod push;
pub mod report;
pub mod rotate;
pub mod run;
