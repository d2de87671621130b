//! TLS: a self-signed certificate made in the test is refused by default, trusted with
//! `--cacert`, and accepted with `--insecure` (with a warning).

use std::sync::Arc;

use crate::common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// A one-route HTTPS Keystone that refuses every password (401), on loopback.
async fn tls_keystone() -> (u16, String) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let pem = ck.cert.pem();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![ck.cert.der().clone()], key)
        .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 16 * 1024];
                let _ = tls.read(&mut buf).await;
                let body =
                    String::from_utf8(fixture("powervc/error-keystone-401.json")).expect("utf-8");
                let resp = format!(
                    "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, pem)
}

fn cli(port: u16) -> Snapctl {
    let mut s = Snapctl::bare();
    s.args = vec![
        "-p".into(),
        "powervc".into(),
        "--endpoint".into(),
        format!("https://localhost:{port}/v3"),
    ];
    s.envs = vec![
        ("OS_USERNAME".into(), PVC_USER.into()),
        ("OS_PASSWORD".into(), PVC_PASSWORD.into()),
    ];
    s
}

#[tokio::test(flavor = "multi_thread")]
async fn a_private_ca_is_refused_unless_given_with_cacert() {
    let (port, pem) = tls_keystone().await;
    let c = cli(port);

    let started = std::time::Instant::now();
    let refused = c.run(&["volume", "list"]).await;
    assert_exit(&refused, 1);
    let err = stderr(&refused);
    assert!(err.contains("invalid peer certificate"), "{err}");
    assert!(
        err.contains("hint: the server's certificate is not trusted"),
        "{err}"
    );
    // A certificate problem is not retried.
    assert!(started.elapsed() < std::time::Duration::from_secs(3));

    let ca = c.home.path().join("powervc.crt");
    std::fs::write(&ca, &pem).expect("write CA");
    let trusted = c
        .run(&[
            "--cacert",
            ca.to_str().expect("utf-8 path"),
            "volume",
            "list",
        ])
        .await;
    // The TLS handshake worked: Keystone's own 401 came back.
    assert_exit(&trusted, 5);
    assert_stderr_has(&trusted, "requires authentication");

    let via_env = cli(port)
        .env("OS_CACERT", ca.to_str().expect("utf-8 path"))
        .run(&["volume", "list"])
        .await;
    assert_exit(&via_env, 5);

    let insecure = c.run(&["--insecure", "-q", "volume", "list"]).await;
    assert_exit(&insecure, 5);
    assert_stderr_has(&insecure, "TLS certificate verification is OFF");
}

#[tokio::test(flavor = "multi_thread")]
async fn cacert_and_insecure_apply_to_ovh_and_outscale_too() {
    let (port, pem) = tls_keystone().await;
    let base = Snapctl::bare();
    let ca = base.home.path().join("private-ca.crt");
    std::fs::write(&ca, &pem).expect("write CA");
    let ca = ca.to_str().expect("utf-8 path").to_string();
    let osc = |extra: &[&str]| {
        let mut s = Snapctl::bare();
        s.args = vec![
            "-p".into(),
            "outscale".into(),
            "--endpoint".into(),
            format!("https://localhost:{port}/api/v1"),
        ];
        s.args.extend(extra.iter().map(|a| a.to_string()));
        s.envs = vec![
            ("OSC_ACCESS_KEY".into(), OSC_AK.into()),
            ("OSC_SECRET_KEY".into(), OSC_SK.into()),
        ];
        s
    };
    let refused = osc(&[]).run(&["volume", "list"]).await;
    assert_exit(&refused, 1);
    assert_stderr_has(&refused, "invalid peer certificate");
    // With the CA, the handshake works and the server's own 401 comes back.
    let trusted = osc(&["--cacert", &ca]).run(&["volume", "list"]).await;
    assert_exit(&trusted, 5);

    let mut ovh = Snapctl::bare();
    ovh.args = vec![
        "-p".into(),
        "ovh-efs".into(),
        "--endpoint".into(),
        format!("https://localhost:{port}/1.0"),
        "--service".into(),
        SERVICE.into(),
    ];
    ovh.envs = vec![
        ("OVH_APPLICATION_KEY".into(), AK.into()),
        ("OVH_APPLICATION_SECRET".into(), AS.into()),
        ("OVH_CONSUMER_KEY".into(), CK.into()),
    ];
    let insecure = ovh.run(&["--insecure", "volume", "list"]).await;
    assert_stderr_has(&insecure, "TLS certificate verification is OFF");
    let err = stderr(&insecure);
    assert!(!err.contains("invalid peer certificate"), "{err}");
}
