//! The one integration-test binary (one link instead of one per file): each module is a suite
//! that drives the real `snapctl` binary against loopback doubles or the emulator.

mod common;

mod cli;
mod conformance;
mod copy;
mod coverage;
mod deploy;
mod docs;
mod drill;
mod efs;
mod efs_policies;
mod emulator;
mod emulator_wire;
mod fault_schedules;
mod fleet;
mod nasha;
mod outscale;
mod powervc;
mod powervc_tls;
mod pushgateway;
mod rotate_efs;
mod rotate_props;
mod security;
mod tables;
