//! Rotation: the monitoring plugin (`check`); the restic-semantics retention rules it reads are
//! the engine's ([`crate::engine::retention`]).
//! `rotate` itself is a one-policy run of the fleet engine ([`rotate`]).

pub mod check;
pub mod rotate;

pub use check::{CheckOptions, Status, VolumeCheck, Volumes, check, status_line, volume_ids};
