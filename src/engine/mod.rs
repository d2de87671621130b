//! The mutation engine's own wing. Today it holds [`delete`], the one gate every deletion passes
//! (snapshots of `rotate`, `policy apply`, `snapshot delete` and `orphans --delete`, copies at a
//! destination, drill volumes, exported images): outside `providers/`, no other module calls a
//! provider's delete methods. The engine proper (`fleet/engine.rs`: units, batches, confirm,
//! finish) and its retention rules move here next (issue 39).

pub(crate) mod delete;
