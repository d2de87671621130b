//! The one integration-test binary (one link instead of one per file): each module is a suite
//! that drives the real `snapctl` binary against loopback doubles or the emulator.
//!
//! Where a new test goes (ARCHITECTURE.md says the same):
//! - one provider's wire behaviour (method, path, headers, signature, body), against a wiremock
//!   double: that provider's file (`efs`, `efs_policies`, `nasha`, `outscale`, `powervc`,
//!   `powervc_tls`);
//! - behaviour every provider shares: `conformance`, over the emulator, gated by each provider's
//!   capabilities; the emulator's own answers as an official client sees them: `emulator_wire`;
//!   every command on every provider end to end: `emulator`;
//! - `rotate` and `check`: `rotate_efs` (and `rotate_props` for the planner's properties); fleet
//!   mode: `fleet`, with `drill`, `copy`, `coverage` and `pushgateway` for those parts;
//! - attacks (credentials, forged server text, hostile files): `security`; faults and retries:
//!   `fault_schedules`; exit codes and configuration without a cloud: `cli`; tables: `tables`;
//!   deployment files: `deploy`; a documented example: a `console` block in README.md or `docs/`
//!   (run by `docs`);
//! - the engine's rules in milliseconds (ordering, guards, signals, hooks): unit tests beside
//!   `src/engine/tests.rs`, over the in-memory provider; pure logic: unit tests beside the code.
//!
//! Helpers: `common` (`Snapctl`, the doubles) and `emulator` (`start`, `Cli`). Tests talk to
//! loopback only and never depend on today's date (CI runs them again two years ahead).

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
mod restore;
mod rotate_efs;
mod rotate_props;
mod security;
mod state;
mod tables;
