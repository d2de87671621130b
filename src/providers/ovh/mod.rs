//! OVHcloud API v1: request signing, the signed client and `ovh.conf`, shared by the Enterprise File
//! Storage (`efs`) and NAS-HA providers.

pub mod client;
pub mod config;
pub mod efs;
pub mod nasha;
pub mod sign;
