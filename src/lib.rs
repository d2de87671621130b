//! snapctl: point-in-time snapshots of storage volumes on OVHcloud Enterprise File Storage, OVHcloud
//! NAS-HA, 3DS OUTSCALE and IBM PowerVC through one command-line interface.
//!
//! The binary is a thin shell over [`commands::run`]. The library surface is what the binary, the
//! integration tests and the benches use: the command tree ([`commands`]: the clap tree in `commands::cli`, each command's arguments beside its handler), the provider
//! trait and its implementations ([`provider`], [`providers`], [`kind`], [`model`]), fleet mode
//! ([`fleet`], [`rotation`], [`lock`]), the mutation engine they share ([`engine`]), configuration and errors ([`config`], [`error`]), the
//! emulator ([`emulator`]) and [`text`]. The transport (`http`), output
//! rendering, selections, waiting, batches, signals and the demo are private to the crate.

#![warn(missing_docs)]

pub mod commands;
pub mod config;
pub(crate) mod connect;
pub mod emulator;
pub mod engine;
pub mod error;
pub mod fleet;
pub(crate) mod http;
pub(crate) mod interrupt;
pub(crate) mod jq;
pub mod kind;
pub mod lock;
pub mod model;
pub(crate) mod output;
pub mod provider;
pub mod providers;
pub mod rotation;
pub(crate) mod select;
pub mod store;
#[cfg(test)]
pub(crate) mod test_support;
pub mod text;
pub(crate) mod wait;
