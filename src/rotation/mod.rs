//! Rotation: the pure restic-semantics planner (`plan`) and the monitoring plugin (`check`).
//! `rotate` itself is a one-policy run of the fleet engine ([`crate::fleet::rotate`]).

pub mod check;
pub mod plan;

pub use check::{CheckOptions, Status, VolumeCheck, Volumes, check, status_line, volume_ids};
