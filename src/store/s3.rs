//! An S3 bucket as a state store: `GET`, conditional `PUT` and `DELETE` of objects under a
//! prefix, path-style (`ENDPOINT/BUCKET/KEY`, which every S3 API serves and loopback endpoints
//! need), signed with SigV4 (service `s3`, the profile's region) in the headers.

use std::sync::Arc;

use reqwest::{Method, Url};
use secrecy::{ExposeSecret, SecretString};

use super::{Cond, Put, StateUrl};
use crate::error::{Error, Result, StoreError};
use crate::http::{Http, Incoming};
use crate::providers::outscale::oos::{S3ErrorBody, object_url, signed_request};

/// A bucket and prefix of an S3 API, with the keys of the profile that names its endpoint.
pub struct S3Store {
    http: Arc<Http>,
    endpoint: Url,
    region: String,
    access_key: String,
    secret_key: SecretString,
    url: StateUrl,
}

impl std::fmt::Debug for S3Store {
    /// Never the secret key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("endpoint", &self.endpoint.as_str())
            .field("region", &self.region)
            .field("url", &self.url.to_string())
            .finish_non_exhaustive()
    }
}

impl S3Store {
    /// The store at `url` through `endpoint` (a base URL: `https://oos.eu-west-2.outscale.com`,
    /// `https://s3.gra.io.cloud.ovh.net`), signed for `region` with the keys.
    pub fn new(
        http: Arc<Http>,
        endpoint: Url,
        region: &str,
        (access_key, secret_key): (&str, SecretString),
        url: StateUrl,
    ) -> S3Store {
        S3Store {
            http,
            endpoint,
            region: region.to_string(),
            access_key: access_key.to_string(),
            secret_key,
            url,
        }
    }

    /// `s3://BUCKET/PREFIX`.
    pub fn describe(&self) -> String {
        self.url.to_string()
    }

    /// `ENDPOINT/BUCKET/PREFIX/NAME`, each segment encoded.
    fn object_url(&self, name: &str) -> Url {
        object_url(&self.endpoint, &self.url.bucket, &self.url.key(name))
    }

    async fn send(
        &self,
        method: Method,
        name: &str,
        body: &[u8],
        cond: Option<&Cond>,
        action: &str,
    ) -> Result<Incoming> {
        let url = self.object_url(name);
        let what = format!("{action} {} in {}", self.url.key(name), self.describe());
        self.http
            .execute(&what, true, || {
                let mut req = signed_request(
                    &method,
                    &url,
                    (&self.access_key, self.secret_key.expose_secret()),
                    &self.region,
                    body,
                );
                match cond {
                    Some(Cond::Absent) => req = req.header("If-None-Match", "*"),
                    Some(Cond::Match(etag)) => req = req.header("If-Match", etag.clone()),
                    None => {}
                }
                if method == Method::PUT {
                    req = req.header("Content-Type", "application/json");
                    req.body = Some(body.to_vec());
                }
                Ok(req)
            })
            .await
    }

    fn error(&self, action: &str, name: &str, resp: &Incoming) -> Error {
        let body = S3ErrorBody::of(resp);
        Error::Store(Box::new(StoreError {
            action: format!("{action} {}", self.url.key(name)),
            store: self.describe(),
            status: resp.status.as_u16(),
            code: body.code,
            message: body.message.unwrap_or_else(|| resp.raw_message()),
            request_id: body.request_id,
        }))
    }

    /// The object `name` and its ETag, `None` when there is none.
    pub async fn get(&self, name: &str) -> Result<Option<(Vec<u8>, String)>> {
        let resp = self.send(Method::GET, name, b"", None, "read").await?;
        match resp.status.as_u16() {
            200 => {
                let etag = resp
                    .header("etag")
                    .ok_or_else(|| self.error("read (no ETag in the answer)", name, &resp))?;
                Ok(Some((resp.body.clone(), etag)))
            }
            404 if !self.no_such_bucket(&resp) => Ok(None),
            _ => Err(self.error("read", name, &resp)),
        }
    }

    fn no_such_bucket(&self, resp: &Incoming) -> bool {
        S3ErrorBody::of(resp).code.as_deref() == Some("NoSuchBucket")
    }

    /// Write `body` as `name` if `cond` holds. A retried create that finds the object is ours
    /// when it holds exactly our bytes (the first attempt's answer was lost on the way).
    pub async fn put(&self, name: &str, body: &[u8], cond: &Cond) -> Result<Put> {
        let resp = self
            .send(Method::PUT, name, body, Some(cond), "write")
            .await?;
        match resp.status.as_u16() {
            200 => resp
                .header("etag")
                .map(Put::Written)
                .ok_or_else(|| self.error("write (no ETag in the answer)", name, &resp)),
            412 | 409 if resp.attempt > 1 && *cond == Cond::Absent => match self.get(name).await? {
                Some((bytes, etag)) if bytes == body => Ok(Put::Written(etag)),
                _ => Ok(Put::Lost),
            },
            // 409 ConditionalRequestConflict: a racing conditional write of the same key won.
            412 | 409 => Ok(Put::Lost),
            404 if matches!(cond, Cond::Match(_)) && !self.no_such_bucket(&resp) => Ok(Put::Lost),
            _ => Err(self.error("write", name, &resp)),
        }
    }

    /// Delete `name` (gone already is done).
    pub async fn delete(&self, name: &str) -> Result<()> {
        let resp = self.send(Method::DELETE, name, b"", None, "delete").await?;
        match resp.status.as_u16() {
            200 | 204 => Ok(()),
            404 if !self.no_such_bucket(&resp) => Ok(()),
            _ => Err(self.error("delete", name, &resp)),
        }
    }

    /// Refuse a store that ignores conditional writes: a probe object created twice with
    /// `If-None-Match: *` must be refused the second time (then it is deleted). Done once per
    /// store and process, before anything is written.
    pub async fn probe(&self) -> Result<()> {
        let name = format!(".snapctl-probe-{}", jiff::Timestamp::now().as_nanosecond());
        let body = b"{\"probe\":\"snapctl checks that this store honours If-None-Match\"}";
        let first = self.put(&name, body, &Cond::Absent).await?;
        let second = self.put(&name, body, &Cond::Absent).await;
        let cleanup = self.delete(&name).await;
        match (first, second?) {
            (Put::Written(_), Put::Lost) => cleanup,
            _ => Err(Error::Config {
                message: format!(
                    "the state store {} ignores conditional writes (a second If-None-Match: * create of one key succeeded): two runners could overwrite each other's state",
                    self.describe()
                ),
                hint: Some(
                    "use a store that honours If-None-Match and If-Match (OVHcloud Object Storage, AWS S3, recent MinIO), or keep state on a local disk (state_dir)".into(),
                ),
            }),
        }
    }
}
