//! OUTSCALE Object Storage (OOS), the S3 API beside the OAPI, as far as a cross-region copy
//! needs it: list the objects under a prefix (`ListObjectsV2`), pre-sign a GET of one, delete one.
//!
//! Requests are path-style (`/<bucket>/<key>`) and signed with SigV4 (`AWS4-HMAC-SHA256`, service
//! `s3`) with the profile's own keys. Where they go follows from the profile's API endpoint, never
//! from a policy file: `https://api.<region>.outscale.com/…` pairs with
//! `https://oos.<region>.outscale.com`; any other endpoint (a gateway, `snapctl emulator`) serves
//! OOS on the same origin under `/oos`. So the keys go to the host the profile names, or to
//! OUTSCALE's own OOS host of the same region.

use std::sync::Arc;

use reqwest::{Method, Url};
use secrecy::SecretString;
use serde::Deserialize;

use super::config::OscConfig;
use super::sign::{presign, s3_headers};
use crate::error::{ApiError, Error, Result};
use crate::http::{Http, Incoming, Outgoing};
use crate::kind::ProviderKind;
use crate::model::StoredObject;

/// Where OOS puts its request id (an S3 error body's `RequestId`; the header is `x-amz-request-id`).
use crate::error::S3_REQUEST_ID as REQUEST_ID;

/// One region's OOS, signed with the profile's keys.
#[derive(Debug)]
pub struct Oos {
    http: Arc<Http>,
    base: Url,
    config: OscConfig,
}

/// The OOS origin that pairs with an OAPI base URL (see the module's note).
pub fn endpoint_for(api: &Url) -> Url {
    let mut base = api.clone();
    base.set_query(None);
    base.set_fragment(None);
    let official = api.host_str().and_then(|h| {
        h.strip_prefix("api.")
            .and_then(|rest| rest.strip_suffix(".outscale.com"))
            .map(str::to_string)
    });
    match official {
        Some(region) if !region.contains('.') => {
            let _ = base.set_host(Some(&format!("oos.{region}.outscale.com")));
            base.set_path("/");
        }
        _ => base.set_path("/oos/"),
    }
    base
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListBucketResult {
    #[serde(default)]
    contents: Vec<Contents>,
    #[serde(default)]
    is_truncated: bool,
    next_continuation_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Contents {
    key: String,
    #[serde(default)]
    size: u64,
}

/// An S3 error answer's body (`<Error><Code>…`), as far as it parses; the request id from the
/// header where the body has none. OOS's errors and the state store's (`store/s3.rs`) read it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3ErrorBody {
    /// S3's code (`NoSuchKey`, `AccessDenied`, …).
    pub code: Option<String>,
    /// S3's message.
    pub message: Option<String>,
    /// The request id.
    pub request_id: Option<String>,
}

impl S3ErrorBody {
    /// What `resp` says of its error.
    pub fn of(resp: &Incoming) -> S3ErrorBody {
        let mut body: S3ErrorBody =
            quick_xml::de::from_reader(resp.body.as_slice()).unwrap_or_default();
        body.request_id = body.request_id.or_else(|| resp.header(REQUEST_ID));
        body
    }
}

/// `/<bucket>/<key>` under an S3 origin (path-style), each segment encoded.
pub fn object_url(base: &Url, bucket: &str, key: &str) -> Url {
    let mut url = base.clone();
    {
        let mut path = url.path_segments_mut().expect("S3 origins are base URLs");
        path.pop_if_empty().push(bucket);
        for seg in key.split('/') {
            path.push(seg);
        }
    }
    url
}

/// One attempt of a path-style S3 request, signed with SigV4 in its headers (the body's
/// SHA-256 signed as its payload): what OOS and the state store send.
pub fn signed_request(
    method: &Method,
    url: &Url,
    (access_key, secret_key): (&str, &str),
    region: &str,
    body: &[u8],
) -> Outgoing {
    let date = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let [(_, payload), (_, date), (_, auth)] = s3_headers(
        (access_key, secret_key),
        region,
        &date,
        method.as_str(),
        url,
        body,
    );
    Outgoing::new(method.clone(), url.clone())
        .header("x-amz-content-sha256", payload)
        .header("x-amz-date", date)
        .secret_header("Authorization", auth)
}

impl Oos {
    /// The OOS of `config`'s region and keys.
    pub fn new(http: Arc<Http>, config: OscConfig) -> Oos {
        Oos {
            http,
            base: endpoint_for(&config.base_url),
            config,
        }
    }

    /// `/<bucket>/<key>` under the OOS origin, each segment encoded.
    fn object_url(&self, bucket: &str, key: &str) -> Url {
        object_url(&self.base, bucket, key)
    }

    async fn send(&self, method: Method, url: Url, what: &str, reading: bool) -> Result<Incoming> {
        let creds = &self.config.credentials;
        let resp = self
            .http
            .execute(what, true, || {
                let mut req = signed_request(
                    &method,
                    &url,
                    (&creds.access_key, creds.secret()),
                    &self.config.region,
                    b"",
                );
                if reading {
                    req = req.reading();
                }
                Ok(req)
            })
            .await?;
        if resp.status.is_success() {
            return Ok(resp);
        }
        // A retried DELETE finding nothing: the earlier attempt took effect.
        if method == Method::DELETE && resp.status.as_u16() == 404 && resp.attempt > 1 {
            return Ok(resp);
        }
        Err(s3_error(what, &resp))
    }

    /// Every object whose key starts with `prefix`, following `ContinuationToken` to the end
    /// (the shared page loop: a token seen twice is an error, never a short list).
    pub async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<StoredObject>> {
        let what = format!("list objects of bucket {bucket} under {prefix}");
        let mut out = Vec::new();
        crate::http::for_each_page(
            ProviderKind::Outscale,
            &what,
            "NextContinuationToken",
            |token| {
                let mut url = self.object_url(bucket, "");
                // `/<bucket>` without the trailing empty segment.
                let path = url.path().trim_end_matches('/').to_string();
                url.set_path(&path);
                {
                    let mut q = url.query_pairs_mut();
                    q.append_pair("list-type", "2")
                        .append_pair("prefix", prefix);
                    if let Some(t) = &token {
                        q.append_pair("continuation-token", t);
                    }
                }
                let what = &what;
                async move {
                    let resp = self.send(Method::GET, url, what, true).await?;
                    let page: ListBucketResult = quick_xml::de::from_reader(resp.body.as_slice())
                        .map_err(|e| Error::Decode {
                        provider: ProviderKind::Outscale,
                        action: what.clone(),
                        detail: format!("ListObjectsV2: {e}"),
                    })?;
                    let items = page
                        .contents
                        .into_iter()
                        .map(|c| StoredObject {
                            bucket: bucket.to_string(),
                            key: c.key,
                            size: c.size,
                        })
                        .collect();
                    Ok((
                        items,
                        page.next_continuation_token.filter(|_| page.is_truncated),
                    ))
                }
            },
            |page| {
                out.extend(page);
                Ok(())
            },
        )
        .await?;
        Ok(out)
    }

    /// Delete one object (gone already is done).
    pub async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        let what = format!("delete object {key} of bucket {bucket}");
        match self
            .send(Method::DELETE, self.object_url(bucket, key), &what, false)
            .await
        {
            Ok(_) | Err(Error::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A GET of the object, pre-signed for `ttl` seconds from now: a credential.
    pub fn presign_get(&self, bucket: &str, key: &str, ttl: u64) -> SecretString {
        let creds = &self.config.credentials;
        let date = jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string();
        let url = presign(
            (&creds.access_key, creds.secret()),
            &self.config.region,
            "s3",
            &date,
            ttl,
            "GET",
            &self.object_url(bucket, key),
        );
        SecretString::from(url.to_string())
    }
}

/// An S3 error answer (`<Error><Code>…`) as `NotFound`, `Unauthorized` or `Api`, with a hint.
fn s3_error(what: &str, resp: &Incoming) -> Error {
    let body = S3ErrorBody::of(resp);
    let status = resp.status.as_u16();
    let code = body.code.clone();
    let hint = match (status, code.as_deref()) {
        (_, Some("NoSuchBucket")) => Some(
            "create the bucket in the source Region with the source account's keys (it must be yours)"
                .to_string(),
        ),
        (401 | 403, _) => Some(
            "the profile's keys must be allowed to read, list and delete objects of the bucket"
                .to_string(),
        ),
        (s, _) if s >= 500 => Some("OOS answered with a server error: retry later".to_string()),
        _ => None,
    };
    let request_id = body.request_id;
    ApiError {
        provider: ProviderKind::Outscale,
        action: what.to_string(),
        status,
        code: code.clone(),
        message: body.message.unwrap_or_else(|| resp.raw_message()),
        request_id_header: REQUEST_ID,
        request_id,
        hint,
    }
    .into_error(matches!(code.as_deref(), Some("NoSuchKey")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_official_api_pairs_with_the_official_oos_and_any_other_with_its_own_origin() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            endpoint_for(&u("https://api.eu-west-2.outscale.com/api/v1")).as_str(),
            "https://oos.eu-west-2.outscale.com/"
        );
        assert_eq!(
            endpoint_for(&u("https://api.cloudgouv-eu-west-1.outscale.com/api/v1")).as_str(),
            "https://oos.cloudgouv-eu-west-1.outscale.com/"
        );
        assert_eq!(
            endpoint_for(&u("http://127.0.0.1:9090/api/v1")).as_str(),
            "http://127.0.0.1:9090/oos/"
        );
        // A look-alike host is not OUTSCALE's: the keys stay on that host.
        assert_eq!(
            endpoint_for(&u("https://api.x.outscale.com.evil.example/api/v1")).as_str(),
            "https://api.x.outscale.com.evil.example/oos/"
        );
    }
}
