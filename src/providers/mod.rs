//! One folder per cloud, and the registry: one row per provider (key, product name, capabilities,
//! id checks, default rate limit) and the constructor. Nothing outside `providers/` sees a wire
//! field. Every folder has the same files, as object_store's `src/{aws,azure,gcp}/` do:
//! - `mod.rs`: the [`Provider`] impl and what it checks before sending;
//! - `client.rs`: signing or authenticating a call, sending it, decoding the answer, and mapping
//!   an API error (`sign.rs`, `auth.rs` where the scheme is long);
//! - `config.rs`: credentials resolved together with the endpoint they may be sent to;
//! - `types.rs`: the wire types (serde structs named as the API names them) and their mapping
//!   to `model` types.
//!
//! OVH's two products share one client and configuration (`ovh/`), each with its own `mod.rs` and
//! `types.rs`. Client behaviour every cloud shares (renew once on a 401, the dry-run probe of a
//! DELETE, API times) is written once, in [`shared`]; so is the refusal of a malformed id
//! ([`check_shape`]). Adding a provider means one folder here, one row in [`REGISTRY`] and one
//! arm in [`build`].

pub mod checked;
#[cfg(test)]
pub mod memory;
pub mod outscale;
pub mod ovh;
pub mod powervc;
pub mod shared;

use std::sync::Arc;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::http::{Http, RateLimit};
use crate::kind::{Capabilities, MarkProof, Marking, ProviderKind};
use crate::provider::Provider;

/// One provider's row of the registry.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// Its key.
    pub kind: ProviderKind,
    /// The product behind the key.
    pub product: &'static str,
    /// What it declares it can do: the data `snapctl providers` prints.
    pub capabilities: Capabilities,
    /// Check a volume id's shape before any request is built.
    pub check_volume_id: fn(&str) -> Result<()>,
    /// Check a snapshot id's shape before any request is built.
    pub check_snapshot_id: fn(&str) -> Result<()>,
    /// Default client-side rate limit.
    pub default_rate_limit: Option<RateLimit>,
    /// Longest name or description the API takes, where it documents one.
    pub max_label: Option<usize>,
    /// Where a fleet policy's mark goes and what proves ownership (`fleet/mark.rs`).
    pub marking: Marking,
    /// The API can snapshot a volume attached to a running machine when asked to (`--force`,
    /// a policy's `force = true`); elsewhere the flag is refused.
    pub force_attached: bool,
    /// The smallest volume the API makes, in GiB (a clone or a drill is at least this large).
    pub min_volume_gib: u64,
    /// Mutations in flight at once in a batch (deletions of a rotation or of `snapshot delete`).
    /// The rate limiter still bounds requests per second; this bounds concurrency.
    pub max_in_flight: usize,
}

/// OVH's only guidance is ~60 requests/min per consumer key (python-ovh#81): 1/s with a burst of 5.
const OVH_RATE: Option<RateLimit> = Some(RateLimit {
    per_second: 1.0,
    burst: 5,
});

/// Every provider, in display order (the order of [`ProviderKind::ALL`]).
pub const REGISTRY: [Entry; 4] = [
    Entry {
        kind: ProviderKind::OvhEfs,
        product: "OVHcloud Enterprise File Storage",
        capabilities: ovh::efs::CAPABILITIES,
        check_volume_id: |id| check_uuid("share id", id),
        check_snapshot_id: |id| check_uuid("snapshot id", id),
        default_rate_limit: OVH_RATE,
        max_label: None,
        marking: Marking {
            description: true,
            tag: false,
            proof: MarkProof::NameAndDescription,
            no_adopt: None,
        },
        force_attached: false,
        // EFS shares are 100 GB to 29 TB.
        min_volume_gib: 100,
        // OVH's only guidance is fair use, ~60 requests/min per consumer key (python-ovh#81), and
        // the rate limiter enforces it; two in flight hide the round trip without bursting.
        max_in_flight: 2,
    },
    Entry {
        kind: ProviderKind::OvhNasha,
        product: "OVHcloud NAS-HA",
        capabilities: ovh::nasha::CAPABILITIES,
        check_volume_id: |id| ovh::nasha::check_name("partition name", id),
        check_snapshot_id: |id| ovh::nasha::check_name("snapshot name", id),
        default_rate_limit: OVH_RATE,
        max_label: None,
        // Custom snapshots have a name and nothing else.
        marking: Marking {
            description: false,
            tag: false,
            proof: MarkProof::Name,
            no_adopt: Some(
                "NAS-HA custom snapshots cannot be renamed, and the name carries the mark; let the policy take new snapshots and rotate the old ones out with snapctl rotate",
            ),
        },
        force_attached: false,
        min_volume_gib: 1,
        // The same OVH fair-use limit as EFS.
        max_in_flight: 2,
    },
    Entry {
        kind: ProviderKind::Outscale,
        product: "3DS OUTSCALE block storage",
        capabilities: outscale::CAPABILITIES,
        check_volume_id: |id| outscale::check_id("volume id", "vol-", id),
        check_snapshot_id: |id| outscale::check_id("snapshot id", "snap-", id),
        // The OUTSCALE SDKs allow 5 requests/s.
        default_rate_limit: Some(RateLimit {
            per_second: 5.0,
            burst: 5,
        }),
        // Names are the Name tag: tag values are 0-255 characters (CreateTags).
        max_label: Some(255),
        // The description is set by CreateSnapshot and never changes; the Name tag is written
        // after, and can fail or be edited.
        marking: Marking {
            description: true,
            tag: true,
            proof: MarkProof::Description,
            no_adopt: Some(
                "an OUTSCALE snapshot keeps the description it was created with, and the description carries the mark; let the policy take new snapshots and rotate the old ones out with snapctl rotate",
            ),
        },
        force_attached: false,
        min_volume_gib: 1,
        // OUTSCALE throttles per account and per call (429 codes 24 and 25); its SDKs send at
        // most 5 requests a second, and so does the default rate limit: 5 in flight.
        max_in_flight: 5,
    },
    Entry {
        kind: ProviderKind::Powervc,
        product: "IBM PowerVC",
        capabilities: powervc::CAPABILITIES,
        check_volume_id: |id| check_uuid("volume id", id),
        check_snapshot_id: |id| check_uuid("snapshot id", id),
        default_rate_limit: None,
        // Cinder's display name and description columns are 255 characters.
        max_label: Some(255),
        // Name, description and metadata in one POST.
        marking: Marking {
            description: true,
            tag: true,
            proof: MarkProof::NameAndDescription,
            no_adopt: None,
        },
        // Cinder's `force` snapshots an in-use volume.
        force_attached: true,
        min_volume_gib: 1,
        // Cinder documents no concurrency limit; its rate limiting answers 413 overLimit, which
        // is retried. Four in flight, as many as rotate's volumes at once.
        max_in_flight: 4,
    },
];

/// The registry row of `kind`.
pub fn entry(kind: ProviderKind) -> &'static Entry {
    REGISTRY
        .iter()
        .find(|e| e.kind == kind)
        .expect("every ProviderKind has a registry row (tested)")
}

/// The providers whose API snapshots an attached volume when asked to, for messages.
pub fn force_attached_names() -> String {
    REGISTRY
        .iter()
        .filter(|e| e.force_attached)
        .map(|e| e.kind.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A provider's credentials paired with the endpoint they may be sent to, resolved once from
/// one source (`crate::connect` explains the rule), before any client exists.
#[derive(Debug)]
pub enum Paired {
    /// OVH EFS: application key, secret and consumer key with their API endpoint.
    OvhEfs(ovh::config::OvhConfig),
    /// OVH NAS-HA: the same, for NAS-HA.
    OvhNasha(ovh::config::OvhConfig),
    /// OUTSCALE: an access key pair with its region and API endpoint.
    Outscale(outscale::config::OscConfig),
    /// PowerVC: a Keystone password with its identity URL (and volume URL override).
    Powervc(Box<powervc::config::PowervcConfig>),
}

impl Paired {
    /// What the provider's own configuration adds to TLS: a CA file and whether to skip
    /// verification (PowerVC's `OS_CACERT`, `OS_INSECURE`, `clouds.yaml`'s `cacert`/`verify`).
    pub fn tls(&self) -> (Option<std::path::PathBuf>, bool) {
        match self {
            Paired::Powervc(c) => (c.cacert.clone(), c.insecure),
            _ => (None, false),
        }
    }
}

/// Pair the credentials of the provider the settings name with their endpoint; configuration
/// warnings (world-readable secrets, …) are pushed to `warnings`.
pub fn pair(settings: &Settings, warnings: &mut Vec<String>) -> Result<Paired> {
    Ok(match settings.provider {
        ProviderKind::OvhEfs => Paired::OvhEfs(ovh::config::resolve(settings, warnings)?),
        ProviderKind::OvhNasha => Paired::OvhNasha(ovh::config::resolve(settings, warnings)?),
        ProviderKind::Outscale => Paired::Outscale(outscale::config::resolve(settings, warnings)?),
        ProviderKind::Powervc => {
            Paired::Powervc(Box::new(powervc::config::resolve(settings, warnings)?))
        }
    })
}

/// Make the provider from its paired configuration and the client built for it, its answers'
/// ids checked ([`checked`]).
pub async fn build(
    settings: &Settings,
    paired: Paired,
    http: Arc<Http>,
) -> Result<Box<dyn Provider>> {
    let inner: Box<dyn Provider> = match paired {
        Paired::OvhEfs(c) => Box::new(ovh::efs::Efs::new(settings, c, http).await?),
        Paired::OvhNasha(c) => Box::new(ovh::nasha::Nasha::new(settings, c, http).await?),
        Paired::Outscale(c) => Box::new(outscale::Outscale::new(settings, c, http)),
        Paired::Powervc(c) => Box::new(powervc::Powervc::new(settings, *c, http)),
    };
    // Every id a server answers is checked where it enters (providers/checked.rs).
    Ok(Box::new(checked::Checked::new(inner)))
}

/// UUID ids (EFS services, shares and snapshots; Cinder volumes and snapshots): refuse anything
/// else before a request exists.
pub fn check_uuid(what: &'static str, value: &str) -> Result<()> {
    let ok = value.len() == 36
        && value.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    check_shape(what, value, ok, true, || {
        "expected a UUID such as 6b1e1f3a-0000-4000-8000-000000000001".into()
    })
}

/// The one refusal of a malformed id or name, before any request: `ok` says whether `value` has
/// the API's shape. Where the API writes ids in lowercase and compares them as strings
/// (`lowercase`), an id of the right shape in uppercase would be "not found", not the same object:
/// it is refused with its lowercase form. Anything else is refused with `expected`.
pub fn check_shape(
    what: &'static str,
    value: &str,
    ok: bool,
    lowercase: bool,
    expected: impl FnOnce() -> String,
) -> Result<()> {
    let reason = if !ok {
        expected()
    } else if lowercase && value.chars().any(|c| c.is_ascii_uppercase()) {
        format!("ids are lowercase: {}", value.to_ascii_lowercase())
    } else {
        return Ok(());
    };
    Err(Error::InvalidInput {
        what,
        value: value.to_string(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` without its `#[cfg(test)]` items (the attribute and the one item after it: up to
    /// its `;`, or through its balanced braces), each line kept with its number: what is
    /// compiled into the program. Everything after a test item is production again.
    fn production_lines(text: &str) -> Vec<(usize, &str)> {
        let mut out = Vec::new();
        let mut lines = text.lines().enumerate();
        while let Some((n, line)) = lines.next() {
            if line.trim() != "#[cfg(test)]" {
                out.push((n + 1, line));
                continue;
            }
            // Skip the item: more attributes, then lines until its braces balance (or a `;`
            // ends it before any brace opens).
            let mut depth = 0i64;
            let mut opened = false;
            for (_, item) in lines.by_ref() {
                let trimmed = item.trim();
                if !opened && trimmed.starts_with("#[") {
                    continue;
                }
                for c in item.chars() {
                    match c {
                        '{' => {
                            depth += 1;
                            opened = true;
                        }
                        '}' => depth -= 1,
                        _ => {}
                    }
                }
                if (opened && depth <= 0) || (!opened && trimmed.ends_with(';')) {
                    break;
                }
            }
        }
        out
    }

    #[test]
    fn only_test_items_are_skipped_not_what_follows_them() {
        let text = "fn a() {}\n#[cfg(test)]\npub fn parse() -> u8 {\n    ProviderKind::Outscale;\n    1\n}\nfn b() { ProviderKind::Powervc }\n#[cfg(test)]\nuse x::y;\nfn c() {}\n#[cfg(test)]\n#[allow(dead_code)]\nmod tests {\n    fn t() { ProviderKind::OvhEfs }\n}\n";
        let kept: Vec<usize> = production_lines(text).iter().map(|(n, _)| *n).collect();
        assert_eq!(kept, [1, 7, 10]);
    }

    /// Provider knowledge lives in `providers/` and the registry: outside it, production code
    /// never matches on which provider it has (the CLI's value list, the emulator, the demo and
    /// `kind.rs` itself aside). A new rule for one provider is a registry field.
    #[test]
    fn no_module_outside_providers_asks_which_provider_it_has() {
        let allowed = [
            "providers/",
            "emulator/",
            "commands/demo.rs",
            "kind.rs",
            "commands/cli.rs",
        ];
        let mut found = Vec::new();
        for (rel, text) in crate::test_support::source_files() {
            if allowed.iter().any(|a| rel.starts_with(a)) {
                continue;
            }
            for (n, line) in production_lines(&text) {
                let variant = ["OvhEfs", "OvhNasha", "Outscale", "Powervc"]
                    .iter()
                    .any(|v| line.contains(&format!("ProviderKind::{v}")));
                if variant && !line.trim_start().starts_with("//") {
                    found.push(format!("{rel}:{n}: {}", line.trim()));
                }
            }
        }
        assert!(
            found.is_empty(),
            "provider branches outside providers/:\n{}",
            found.join("\n")
        );
    }

    #[test]
    fn uppercase_ids_are_refused_with_the_lowercase_form() {
        let err = check_uuid("share id", "6B1E1F3A-0000-4000-8000-000000000001").unwrap_err();
        assert!(
            err.to_string()
                .contains("ids are lowercase: 6b1e1f3a-0000-4000-8000-000000000001"),
            "{err}"
        );
        assert!(check_uuid("share id", "6b1e1f3a-0000-4000-8000-000000000001").is_ok());
        let err = outscale::check_id("volume id", "vol-", "vol-0A1B2C3D").unwrap_err();
        assert!(err.to_string().contains("vol-0a1b2c3d"), "{err}");
        assert!(outscale::check_id("volume id", "vol-", "vol-0a1b2c3d").is_ok());
    }

    #[test]
    fn the_registry_has_one_row_per_kind_in_order() {
        let kinds: Vec<ProviderKind> = REGISTRY.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ProviderKind::ALL);
    }
}
