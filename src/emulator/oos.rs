//! The emulated OUTSCALE Object Storage (OOS): S3's path-style API under `/oos/<bucket>/<key>`,
//! each Region's buckets in that Region's account. It answers what a cross-region copy uses:
//! `ListObjectsV2` (`GET /oos/<bucket>?list-type=2&prefix=…`), `GetObject` and `DeleteObject`,
//! and what a state store uses: `PutObject` of small objects, with S3's conditional writes
//! (`If-None-Match: *` creates only, `If-Match: ETAG` compares and swaps: 412
//! `PreconditionFailed` otherwise, 404 for `If-Match` on a missing key) and the body's
//! `x-amz-content-sha256` checked,
//! every request signed with SigV4 (`AWS4-HMAC-SHA256`, service `s3`) in its headers or, for a
//! GET, in a pre-signed query, checked as OOS checks them: the key's account and Region, the
//! signature recomputed from the request, a pre-signed URL's date and `X-Amz-Expires`.

use axum::body::Body;
use axum::http::{Method, Response, StatusCode};
use axum::response::IntoResponse;

use super::{OSC_ACCOUNTS, Req, World};
use crate::providers::outscale::sign::{AWS4, canonical, query_signature, sign_canonical};

/// An object of a bucket: an exported snapshot image.
pub(crate) struct StoredObj {
    /// Bytes of the image.
    pub(crate) size: u64,
    /// Bytes of the volume it holds (what `SnapshotSize` must cover on import).
    pub(crate) original: u64,
    /// The bytes of an object written with `PutObject` (an exported image's are not kept).
    pub(crate) body: Option<Vec<u8>>,
}

impl StoredObj {
    /// Its ETag: a digest of a put object's bytes (S3 answers their MD5 for a single-part
    /// upload; clients only compare ETags), a stand-in derived from the size for an image.
    fn etag(&self) -> String {
        match &self.body {
            Some(b) => format!("\"{:032x}\"", digest128(b)),
            None => format!("\"{:032x}\"", self.size),
        }
    }
}

/// A digest standing for the MD5 S3 uses as a single-part object's ETag (SHA-256 cut to 128
/// bits: the emulator needs a digest of the bytes, not MD5's own value).
fn digest128(bytes: &[u8]) -> u128 {
    use sha2::Digest;
    let d = sha2::Sha256::digest(bytes);
    u128::from_be_bytes(d[..16].try_into().expect("16 bytes"))
}

/// Largest object `PutObject` takes here (state records are small).
const MAX_PUT: usize = 1 << 20;

/// Longest validity a pre-signed URL may ask for (S3's: seven days).
const MAX_EXPIRES: i64 = 604_800;

/// An S3 error answer: `<Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId></Error>`.
pub(crate) fn error(
    status: u16,
    code: &str,
    message: &str,
    headers: &[(&str, String)],
) -> Response<Body> {
    let id = format!("{:016X}", fastrand::u64(..));
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message><RequestId>{id}</RequestId></Error>",
        escape(message)
    );
    let mut resp = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/xml")
        .header("x-amz-request-id", id);
    for (k, v) in headers {
        resp = resp.header(*k, v);
    }
    resp.body(Body::from(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn denied(why: &str) -> Response<Body> {
    error(403, "AccessDenied", why, &[])
}

/// The secret key and Region of an access key.
fn account(ak: &str) -> Option<(&'static str, &'static str)> {
    OSC_ACCOUNTS
        .iter()
        .find(|(k, _, _)| *k == ak)
        .map(|(_, sk, region)| (*sk, *region))
}

/// The Region of the account that signed `req` in its headers.
fn authenticate(req: &Req) -> Result<&'static str, Box<Response<Body>>> {
    let Some(auth) = req.header("authorization") else {
        return Err(Box::new(denied(
            "Anonymous access is forbidden for this operation",
        )));
    };
    let Some(rest) = auth.strip_prefix("AWS4-HMAC-SHA256 Credential=") else {
        return Err(Box::new(denied("Unsupported signature algorithm")));
    };
    let mut parts = rest.split(',').map(str::trim);
    let credential = parts.next().unwrap_or_default();
    let signed = parts
        .clone()
        .find_map(|p| p.strip_prefix("SignedHeaders="))
        .unwrap_or_default();
    let scope: Vec<&str> = credential.split('/').collect();
    let [ak, _day, region, "s3", "aws4_request"] = scope.as_slice() else {
        return Err(Box::new(denied("Malformed credential scope")));
    };
    let Some((sk, home)) = account(ak) else {
        return Err(Box::new(error(
            403,
            "InvalidAccessKeyId",
            "The access key does not exist",
            &[],
        )));
    };
    if *region != home {
        return Err(Box::new(denied(
            "The credential scope names another Region",
        )));
    }
    let (Some(date), Some(payload)) =
        (req.header("x-amz-date"), req.header("x-amz-content-sha256"))
    else {
        return Err(Box::new(denied(
            "Missing x-amz-date or x-amz-content-sha256",
        )));
    };
    let mut headers = Vec::new();
    for name in signed.split(';') {
        let Some(value) = req.header(name) else {
            return Err(Box::new(denied("A signed header is missing")));
        };
        headers.push((name, value));
    }
    if !headers.iter().any(|(n, _)| *n == "host") {
        return Err(Box::new(denied("The host header must be signed")));
    }
    let target = if req.raw_query.is_empty() {
        req.path.clone()
    } else {
        format!("{}?{}", req.path, req.raw_query)
    };
    let (signed, canon) = canonical(req.method.as_str(), &target, &headers, payload, false);
    let (_, expected) = sign_canonical(AWS4, (ak, sk), home, "s3", date, &signed, &canon);
    if auth != expected {
        return Err(Box::new(error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided",
            &[],
        )));
    }
    Ok(home)
}

/// Whether `url` is a valid pre-signed GET now: its Region, or why not.
fn presigned(w: &World, url: &url::Url) -> Result<&'static str, String> {
    let q = |key: &str| {
        url.query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    if q("X-Amz-Algorithm").as_deref() != Some("AWS4-HMAC-SHA256") {
        return Err("not a SigV4 pre-signed URL".into());
    }
    let credential = q("X-Amz-Credential").unwrap_or_default();
    let scope: Vec<&str> = credential.split('/').collect();
    let [ak, _day, region, "s3", "aws4_request"] = scope.as_slice() else {
        return Err("malformed X-Amz-Credential".into());
    };
    let (sk, home) = account(ak).ok_or("unknown access key")?;
    if *region != home {
        return Err("the credential scope names another Region".into());
    }
    if q("X-Amz-SignedHeaders").as_deref() != Some("host") {
        return Err("only host may be signed".into());
    }
    let date = q("X-Amz-Date").unwrap_or_default();
    let signed_at = crate::model::parse_stamp(&date).ok_or("malformed X-Amz-Date")?;
    let expires: i64 = q("X-Amz-Expires")
        .and_then(|e| e.parse().ok())
        .filter(|e| (1..=MAX_EXPIRES).contains(e))
        .ok_or("X-Amz-Expires must be 1 to 604800 seconds")?;
    let now = w.now();
    if now > signed_at + jiff::SignedDuration::from_secs(expires) {
        return Err("Request has expired".into());
    }
    if signed_at > now + jiff::SignedDuration::from_mins(15) {
        return Err("Request is not valid yet".into());
    }
    let expected = query_signature(sk, home, "s3", &date, "GET", url);
    if q("X-Amz-Signature").as_deref() != Some(expected.as_str()) {
        return Err(
            "The request signature we calculated does not match the signature you provided".into(),
        );
    }
    Ok(home)
}

/// `(bucket, key)` of a path `/oos/<bucket>[/<key>]` (the key may be empty).
fn bucket_and_key(path: &str) -> Option<(String, String)> {
    let rest = path.strip_prefix("/oos/")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
    };
    Some((decode(bucket)?, decode(key)?)).filter(|(b, _)| !b.is_empty())
}

/// Whether OUTSCALE could read the image at a pre-signed `location` (a `FileLocation`): the
/// bytes of the volume it holds, or why not.
pub(crate) fn readable(w: &World, location: &str) -> Result<u64, String> {
    let url = url::Url::parse(location).map_err(|e| format!("not a URL ({e})"))?;
    let region = presigned(w, &url)?;
    let (bucket, key) = bucket_and_key(url.path()).ok_or("not an OOS object URL")?;
    let account = [&w.osc, &w.osc_dr]
        .into_iter()
        .find(|a| a.region == region)
        .ok_or("no such Region")?;
    account
        .buckets
        .get(&bucket)
        .ok_or("NoSuchBucket")?
        .get(&key)
        .map(|o| o.original)
        .ok_or_else(|| "NoSuchKey".into())
}

pub(crate) fn handle(w: &mut World, req: &Req) -> Response<Body> {
    let Some((bucket, key)) = bucket_and_key(&req.path) else {
        return error(
            400,
            "InvalidRequest",
            "Path-style /<bucket>/<key> only",
            &[],
        );
    };
    let region = if req.query("X-Amz-Signature").is_some() {
        let host = req.header("host").unwrap_or("localhost");
        let full = format!("http://{host}{}?{}", req.path, req.raw_query);
        let checked = url::Url::parse(&full)
            .map_err(|e| e.to_string())
            .and_then(|u| presigned(w, &u));
        match checked {
            Ok(r) if req.method == Method::GET => r,
            Ok(_) => return denied("A pre-signed URL is for the method it was signed for"),
            Err(why) => return denied(&why),
        }
    } else {
        match authenticate(req) {
            Ok(r) => r,
            Err(refused) => return *refused,
        }
    };
    w.in_osc_region(region, |w| {
        let everything = w.osc.list_ignores_prefix;
        let Some(objects) = w.osc.buckets.get_mut(&bucket) else {
            return error(
                404,
                "NoSuchBucket",
                "The specified bucket does not exist",
                &[],
            );
        };
        match (&req.method, key.is_empty()) {
            (&Method::GET, true) => list(&bucket, objects, req, everything),
            (&Method::GET, false) => match objects.get(&key) {
                // An image itself is not kept: a qcow2 header stands for it.
                Some(o) => Response::builder()
                    .status(200)
                    .header("content-type", "application/octet-stream")
                    .header("etag", o.etag())
                    .body(Body::from(
                        o.body
                            .clone()
                            .unwrap_or_else(|| b"QFI\xfb\x00\x00\x00\x03".to_vec()),
                    ))
                    .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
                None => error(404, "NoSuchKey", "The specified key does not exist.", &[]),
            },
            (&Method::PUT, false) => put(objects, &key, req),
            // S3 answers 204 whether or not the key existed.
            (&Method::DELETE, false) => {
                objects.remove(&key);
                super::empty(204, &[])
            }
            _ => error(
                405,
                "MethodNotAllowed",
                "The specified method is not allowed against this resource.",
                &[],
            ),
        }
    })
}

/// `PutObject`: the body checked against its signed `x-amz-content-sha256`, then written if
/// the request's condition holds.
fn put(
    objects: &mut std::collections::BTreeMap<String, StoredObj>,
    key: &str,
    req: &Req,
) -> Response<Body> {
    use sha2::Digest;
    if req.body.len() > MAX_PUT {
        return error(
            400,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
            &[],
        );
    }
    let claimed = req.header("x-amz-content-sha256").unwrap_or_default();
    if claimed != "UNSIGNED-PAYLOAD" && claimed != hex::encode(sha2::Sha256::digest(&req.body)) {
        return error(
            400,
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
            &[],
        );
    }
    let current = objects.get(key);
    if req.header("if-none-match") == Some("*") && current.is_some() {
        return error(
            412,
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
            &[],
        );
    }
    if let Some(want) = req.header("if-match") {
        match current {
            None => return error(404, "NoSuchKey", "The specified key does not exist.", &[]),
            Some(o) if o.etag() != want => {
                return error(
                    412,
                    "PreconditionFailed",
                    "At least one of the pre-conditions you specified did not hold",
                    &[],
                );
            }
            Some(_) => {}
        }
    }
    let obj = StoredObj {
        size: req.body.len() as u64,
        original: req.body.len() as u64,
        body: Some(req.body.to_vec()),
    };
    let etag = obj.etag();
    objects.insert(key.to_string(), obj);
    super::empty(200, &[("etag", etag)])
}

/// `ListObjectsV2`, 1,000 keys a page (or `max-keys`), in key order.
fn list(
    bucket: &str,
    objects: &std::collections::BTreeMap<String, StoredObj>,
    req: &Req,
    ignore_prefix: bool,
) -> Response<Body> {
    if req.query("list-type") != Some("2") {
        return error(
            400,
            "InvalidArgument",
            "Only ListObjectsV2 (list-type=2) is served",
            &[],
        );
    }
    let prefix = req.query("prefix").unwrap_or("");
    let max: usize = req
        .query("max-keys")
        .and_then(|m| m.parse().ok())
        .unwrap_or(1000)
        .clamp(1, 1000);
    let after = req.query("continuation-token").unwrap_or("");
    let matching: Vec<_> = objects
        .iter()
        .filter(|(k, _)| (ignore_prefix || k.starts_with(prefix)) && k.as_str() > after)
        .collect();
    let page = &matching[..max.min(matching.len())];
    let truncated = matching.len() > page.len();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{}</Name><Prefix>{}</Prefix><KeyCount>{}</KeyCount><MaxKeys>{max}</MaxKeys><IsTruncated>{truncated}</IsTruncated>",
        escape(bucket),
        escape(prefix),
        page.len()
    );
    for (k, o) in page {
        xml.push_str(&format!(
            "<Contents><Key>{}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>{}</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
            escape(k),
            escape(&o.etag()),
            o.size
        ));
    }
    if truncated && let Some((last, _)) = page.last() {
        xml.push_str(&format!(
            "<NextContinuationToken>{}</NextContinuationToken>",
            escape(last)
        ));
    }
    xml.push_str("</ListBucketResult>");
    Response::builder()
        .status(200)
        .header("content-type", "application/xml")
        .body(Body::from(xml))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
