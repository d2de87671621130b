//! Fleet mode: snapshot policies as code (`snapctl policy …`). The file ([`file`]) says which
//! volumes, how often and what to keep; [`mark`] is how a policy knows its own snapshots;
//! [`plan`] decides per policy and volume what to create, delete and keep (no I/O); [`engine`]
//! carries units out (every change `rotate` and `policy apply` make goes through it); [`run`]
//! reads the clouds, applies a plan and writes the report and the metrics; [`rotate`] is the
//! `rotate` command as a one-policy run of the engine.

pub mod cadence;
pub mod engine;
pub mod file;
pub mod hook;
pub mod mark;
pub mod plan;
pub mod rotate;
pub mod run;
