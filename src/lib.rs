//! snapctl: point-in-time snapshots of storage volumes on OVHcloud Enterprise File Storage, OVHcloud
//! NAS-HA, 3DS OUTSCALE and IBM PowerVC through one command-line interface.
//!
//! The binary is a thin shell over [`commands::run`]; everything it does is reachable from this library.

#![warn(missing_docs)]

pub mod batch;
pub mod cli;
pub mod commands;
pub mod complete;
pub mod config;
pub mod connect;
pub mod demo;
pub mod emulator;
pub mod error;
pub mod fleet;
pub mod http;
pub mod interrupt;
pub mod jq;
pub mod kind;
pub mod lock;
pub mod model;
pub mod output;
pub mod provider;
pub mod providers;
pub mod rotation;
pub mod select;
pub mod text;
pub mod wait;
