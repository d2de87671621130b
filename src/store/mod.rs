//! Where fleet mode keeps what it remembers when the runner's disk is not its own (issue 40): a
//! bucket of the user's own S3 object storage (OUTSCALE OOS, OVHcloud Object Storage, any S3
//! API), named in the policy file as `state = "s3://BUCKET/PREFIX"` with `state_profile`, a
//! profile of `provider = "s3"` (endpoint, region, keys: the keys go to that endpoint only).
//!
//! [`S3Store`] reads and writes objects under the prefix, path-style, signed with SigV4, and
//! writes conditionally: `If-None-Match: *` creates only (one writer wins), `If-Match: ETAG` is a
//! compare-and-swap. A store that ignores the conditions is refused at first use
//! ([`S3Store::probe`]), never trusted silently. [`Mirror`] keeps the drill records of a run in a
//! private local directory, pulled from the bucket before the run and pushed back (each write
//! conditional on what was pulled) as soon as the run saves them.

mod lease;
mod mirror;
mod s3;

pub use lease::{LEASE_SCHEMA, Lease};
pub use mirror::Mirror;
pub use s3::S3Store;

/// `s3://BUCKET/PREFIX`, parsed: a bucket name S3 accepts and a prefix of plain segments (no
/// empty, `.` or `..` segment, no backslash), with no trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateUrl {
    /// The bucket.
    pub bucket: String,
    /// The prefix every key is under (may be empty).
    pub prefix: String,
}

impl StateUrl {
    /// Parse `s3://BUCKET[/PREFIX]`.
    pub fn parse(text: &str) -> std::result::Result<StateUrl, String> {
        let rest = text
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{text:?}: expected s3://BUCKET/PREFIX"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
            && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !bucket_ok {
            return Err(format!(
                "bucket {bucket:?}: 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit"
            ));
        }
        let prefix = prefix.trim_end_matches('/');
        let segments_ok = prefix.is_empty()
            || prefix.split('/').all(|s| {
                !s.is_empty()
                    && s != "."
                    && s != ".."
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            });
        if !segments_ok {
            return Err(format!(
                "prefix {prefix:?}: segments of letters, digits, '-', '_' and '.', separated by single '/'"
            ));
        }
        Ok(StateUrl {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// The key of `name` under the prefix.
    pub fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }
}

impl std::fmt::Display for StateUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}", self.bucket)?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}

/// What a write is conditional on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// Written only if no object has the key (`If-None-Match: *`).
    Absent,
    /// Written only if the object's ETag is this one (`If-Match`).
    Match(String),
}

/// How a conditional write ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Put {
    /// Written: the object's new ETag.
    Written(String),
    /// The condition did not hold (412, or 404 for `If-Match` on a key that is gone): another
    /// writer got there first.
    Lost,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A store in the emulator's OOS bucket of its first Region, under `prefix`.
    pub(crate) fn emulator_store(base: &str, prefix: &str) -> std::sync::Arc<S3Store> {
        use crate::emulator::{OSC_AK, OSC_BUCKET, OSC_REGION, OSC_SK};
        let http = crate::http::Http::new(crate::http::HttpConfig::default()).expect("http");
        std::sync::Arc::new(S3Store::new(
            std::sync::Arc::new(http),
            reqwest::Url::parse(&format!("{base}/oos")).expect("url"),
            OSC_REGION,
            (OSC_AK, secrecy::SecretString::from(OSC_SK)),
            StateUrl::parse(&format!("s3://{OSC_BUCKET}/{prefix}")).expect("state url"),
        ))
    }

    #[test]
    fn a_state_url_names_a_bucket_and_a_clean_prefix() {
        let u = StateUrl::parse("s3://snapctl-state/fleet/prod/").expect("valid");
        assert_eq!(u.bucket, "snapctl-state");
        assert_eq!(u.prefix, "fleet/prod");
        assert_eq!(u.key("drill-p.json"), "fleet/prod/drill-p.json");
        assert_eq!(u.to_string(), "s3://snapctl-state/fleet/prod");
        let bare = StateUrl::parse("s3://snapctl-state").expect("valid");
        assert_eq!(bare.key("x"), "x");
        for bad in [
            "snapctl-state/x",
            "s3://",
            "s3://UPPER/x",
            "s3://ab/x",
            "s3://b-1/../x",
            "s3://b-1/a//b",
            "s3://b-1/a/./b",
            "s3://b-1/a\\b",
            "s3://b-1/a?b",
        ] {
            assert!(StateUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
