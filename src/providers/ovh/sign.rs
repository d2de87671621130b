//! OVH API v1 request signature, as a pure function.
//!
//! `X-Ovh-Signature = "$1$" + hex(SHA1(AS + "+" + CK + "+" + METHOD + "+" + URL + "+" + BODY + "+" + TS))`
//! (OVH "first steps" guide; python-ovh `raw_call`, go-ovh `NewRequest`). No clock, no I/O: the caller
//! supplies the server-corrected timestamp and the exact URL and body bytes it will send.

use sha1::{Digest, Sha1};

/// Compute `X-Ovh-Signature` for one request.
pub fn signature(
    application_secret: &str,
    consumer_key: &str,
    method: &str,
    url: &str,
    body: &[u8],
    timestamp: i64,
) -> String {
    let mut h = Sha1::new();
    h.update(application_secret.as_bytes());
    h.update(b"+");
    h.update(consumer_key.as_bytes());
    h.update(b"+");
    h.update(method.to_ascii_uppercase().as_bytes());
    h.update(b"+");
    h.update(url.as_bytes());
    h.update(b"+");
    h.update(body);
    h.update(b"+");
    h.update(timestamp.to_string().as_bytes());
    format!("$1${}", hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Vectors {
        vectors: Vec<Vector>,
    }

    #[derive(Deserialize)]
    struct Vector {
        name: String,
        application_secret: String,
        consumer_key: String,
        method: String,
        url: String,
        body: String,
        timestamp: String,
        expected_signature: String,
    }

    #[test]
    fn matches_every_published_vector() {
        let text = include_str!("../../../fixtures/ovh/signature-vectors.json");
        let v: Vectors = serde_json::from_str(text).expect("vector file parses");
        assert!(v.vectors.len() >= 9, "expected the 9 pinned vectors");
        for vector in v.vectors {
            let ts: i64 = vector.timestamp.parse().expect("numeric timestamp");
            let got = signature(
                &vector.application_secret,
                &vector.consumer_key,
                &vector.method,
                &vector.url,
                vector.body.as_bytes(),
                ts,
            );
            assert_eq!(got, vector.expected_signature, "vector {}", vector.name);
        }
    }

    #[test]
    fn empty_body_yields_double_separator() {
        // Worked example from api/ovh.md: "as+ck+GET+https://eu.api.ovh.com/1.0/storage/netapp++1457018875"
        assert_eq!(
            signature(
                "as",
                "ck",
                "get",
                "https://eu.api.ovh.com/1.0/storage/netapp",
                b"",
                1457018875
            ),
            "$1$2f8c35213116f71a13417b304a7a3edfa8439062"
        );
    }
}
