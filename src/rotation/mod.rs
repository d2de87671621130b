//! Rotation: the pure restic-semantics planner (`plan`), the batch runner that locks, lists,
//! creates and deletes (`run`), and the monitoring plugin (`check`).

pub mod check;
pub mod plan;
pub mod run;

pub use check::{CheckOptions, Status, VolumeCheck, check, status_line};
pub use run::{RotateOptions, RotateReport, Volumes, rotate};
