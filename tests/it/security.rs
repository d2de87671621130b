//! snapctl tried as an attacker would: credentials must stay with the API they belong to.
//!
//! Each test reproduces one attack from the security audit against loopback listeners and asserts
//! that it now fails to do harm.

use crate::common::*;
use wiremock::MockServer;

/// A config file whose default profile is an `ovh-efs` profile pointed at `efs_endpoint`.
fn efs_default_profile(cli: &Snapctl, efs_endpoint: &str) {
    let dir = cli.home.path().join("config/snapctl");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        format!(
            "default_profile = \"efs\"\n[profiles.efs]\nprovider = \"ovh-efs\"\nendpoint = \"{efs_endpoint}\"\nservice = \"{SERVICE}\"\n"
        ),
    )
    .expect("write");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_default_profile_never_sends_another_clouds_credentials_to_its_endpoint() {
    // The OVH profile's endpoint: nothing meant for another cloud may ever reach it.
    let efs_endpoint = MockServer::start().await;
    // Where each other provider is really pointed (by flag), to keep every request on loopback.
    let other = MockServer::start().await;
    let runs: [(&str, Snapctl); 3] = [
        ("powervc", Snapctl::powervc(&other)),
        ("outscale", Snapctl::outscale(&other)),
        ("ovh-nasha", Snapctl::nasha(&other)),
    ];
    for (name, mut cli) in runs {
        // The audit's shape: the provider comes from -p and neither flag nor environment names an
        // endpoint, so a leaked profile would supply it. The provider's own native file (below the
        // profile in precedence) points at `other`, so nothing leaves loopback either way. For
        // NAS-HA the service is not given either: the EFS profile's must not be used.
        cli.args
            .retain(|a| a != "--endpoint" && !a.starts_with("http://"));
        let home = cli.home.path().to_path_buf();
        match name {
            "powervc" => {}
            "outscale" => {
                std::fs::create_dir_all(home.join(".osc")).expect("mkdir");
                std::fs::write(
                    home.join(".osc/config.json"),
                    format!(
                        "{{\"default\": {{\"endpoints\": {{\"api\": \"{}/api/v1\"}}}}}}",
                        other.uri()
                    ),
                )
                .expect("write");
            }
            _ => {
                cli.args.retain(|a| a != "--service" && a != NASHA);
                std::fs::write(
                    home.join(".ovh.conf"),
                    format!("[default]\nendpoint={}/1.0\n", other.uri()),
                )
                .expect("write");
            }
        }
        efs_default_profile(&cli, &format!("{}/1.0", efs_endpoint.uri()));
        let out = cli.run(&["-v", "volume", "list"]).await;
        let got = efs_endpoint.received_requests().await.unwrap_or_default();
        assert!(
            got.is_empty(),
            "{name}: the ovh-efs profile's endpoint received {:?}\nstderr: {}",
            got.iter().map(|r| r.url.to_string()).collect::<Vec<_>>(),
            stderr(&out)
        );
        assert!(
            !stderr(&out).contains(SERVICE),
            "{name}: the EFS service id was used:\n{}",
            stderr(&out)
        );
        assert_ne!(out.status.code(), Some(0), "{name} had nowhere to go");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_explicit_profile_of_another_provider_exits_5_naming_both() {
    let efs_endpoint = MockServer::start().await;
    let other = MockServer::start().await;
    let cli = Snapctl::powervc(&other);
    efs_default_profile(&cli, &format!("{}/1.0", efs_endpoint.uri()));
    let out = cli.run(&["--profile", "efs", "volume", "list"]).await;
    assert_exit(&out, 5);
    assert_stderr_has(&out, "profile \"efs\" is for ovh-efs, not for powervc");
    assert!(
        efs_endpoint
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
    assert!(
        other
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
}

/// A 307 to `elsewhere` for every request on `server`.
async fn redirect_everything(server: &MockServer, elsewhere: &MockServer) {
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(
            wiremock::ResponseTemplate::new(307)
                .insert_header("Location", format!("{}/stolen", elsewhere.uri())),
        )
        .mount(server)
        .await;
}

/// Every request `elsewhere` received, as text, for the failure message.
async fn received(elsewhere: &MockServer) -> Vec<String> {
    elsewhere
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| format!("{} {} {:?}", r.method, r.url, r.headers))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_are_never_followed_by_any_provider() {
    let elsewhere = MockServer::start().await;
    let ovh = ovh_server().await;
    redirect_everything(&ovh, &elsewhere).await;
    let osc = MockServer::start().await;
    redirect_everything(&osc, &elsewhere).await;
    let keystone = MockServer::start().await;
    redirect_everything(&keystone, &elsewhere).await;
    let runs = [
        ("ovh-efs", Snapctl::efs(&ovh)),
        ("outscale", Snapctl::outscale(&osc)),
        ("powervc keystone", Snapctl::powervc(&keystone)),
    ];
    for (name, cli) in runs {
        let out = cli.run(&["volume", "list"]).await;
        assert_exit(&out, 1);
        assert_stderr_has(&out, "answered 307 redirecting to");
        assert_stderr_has(&out, &format!("{}/stolen", elsewhere.uri()));
        let got = received(&elsewhere).await;
        assert!(got.is_empty(), "{name} followed a redirect: {got:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cinder_redirect_never_carries_the_token_elsewhere() {
    let elsewhere = MockServer::start().await;
    let server = powervc_server(1).await;
    wiremock::Mock::given(wiremock::matchers::path_regex("^/v3/[0-9a-f]+/.*"))
        .respond_with(
            wiremock::ResponseTemplate::new(307)
                .insert_header("Location", format!("{}/v3/stolen", elsewhere.uri())),
        )
        .mount(&server)
        .await;
    let out = Snapctl::powervc(&server).run(&["volume", "list"]).await;
    assert_exit(&out, 1);
    assert_stderr_has(&out, "snapctl does not follow redirects");
    let got = received(&elsewhere).await;
    assert!(got.is_empty(), "the token went elsewhere: {got:?}");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_planted_ovh_conf_others_can_write_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let server = ovh_server().await;
    let mut cli = Snapctl::efs(&server);
    // The endpoint comes from ./ovh.conf (the working directory), the keys from the environment.
    cli.args
        .retain(|a| a != "--endpoint" && !a.starts_with("http://"));
    let conf = cli.home.path().join("ovh.conf");
    std::fs::write(&conf, format!("[default]\nendpoint={}/1.0\n", server.uri())).expect("write");
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let out = cli.run(&["volume", "list"]).await;
    assert_stderr_has(&out, "ovh.conf can be changed by other users (mode 666)");
    assert_stderr_has(&out, "chmod go-w");
}

/// Bytes a terminal would act on: ESC, BEL, CR, the C1 CSI and a bidi override.
fn has_terminal_controls(text: &str) -> bool {
    text.chars()
        .any(|c| matches!(c, '\u{1b}' | '\u{7}' | '\r' | '\u{9b}' | '\u{202e}'))
}

#[tokio::test(flavor = "multi_thread")]
async fn server_text_reaches_the_terminal_without_control_characters() {
    let server = ovh_server().await;
    let share_list = format!("/1.0/storage/netapp/{SERVICE}/share");
    let hostile = "Invalid\u{1b}]0;pwned\u{7}\r signature\u{1b}[2J\u{9b}31m\u{202e}";
    ovh("GET", share_list.clone())
        .respond_with(
            wiremock::ResponseTemplate::new(400)
                .set_body_json(
                    serde_json::json!({"class": "Client::BadRequest", "message": hostile}),
                )
                .insert_header("X-Ovh-QueryID", "EU.ext-3.63ac85b6"),
        )
        .mount(&server)
        .await;
    let out = Snapctl::efs(&server).run(&["volume", "list"]).await;
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        !has_terminal_controls(&err),
        "raw controls on stderr: {err:?}"
    );
    assert_stderr_has(&out, "Invalid]0;pwned signature[2J31m");

    // A name with escapes in a table on stdout.
    let server = ovh_server().await;
    let body = String::from_utf8(fixture("ovh-efs/shares.json"))
        .expect("utf-8")
        .replace(
            "\"name\": \"appdata\"",
            "\"name\": \"app\\u001b]0;pwned\\u0007\\rdata\"",
        );
    ovh("GET", share_list)
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .mount(&server)
        .await;
    let out = Snapctl::efs(&server).run(&["volume", "list"]).await;
    assert_exit(&out, 0);
    let table = stdout(&out);
    assert!(
        !has_terminal_controls(&table),
        "raw controls on stdout: {table:?}"
    );
    assert!(table.contains("app]0;pwneddata"), "{table}");
    // JSON stays faithful: serde escapes the controls.
    let out = Snapctl::efs(&server)
        .run(&["-o", "json", "volume", "list"])
        .await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["name"], "app\u{1b}]0;pwned\u{7}\rdata");
    assert!(!has_terminal_controls(&stdout(&out)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_raw_error_body_is_clipped_in_the_message() {
    let server = ovh_server().await;
    let page = format!(
        "<html><body>{}</body></html>",
        "gateway error ".repeat(2000)
    );
    ovh("GET", format!("/1.0/storage/netapp/{SERVICE}/share"))
        .respond_with(wiremock::ResponseTemplate::new(502).set_body_raw(page, "text/html"))
        .mount(&server)
        .await;
    let out = Snapctl::efs(&server).run(&["volume", "list"]).await;
    assert_exit(&out, 1);
    let err = stderr(&out);
    let first = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .expect("error line");
    assert!(first.len() < 1400, "{} bytes: {first}", first.len());
    assert!(first.contains("more bytes]"), "{first}");
}

#[tokio::test(flavor = "multi_thread")]
async fn vv_traces_never_show_a_pre_signed_url_signature() {
    let server = MockServer::start().await;
    let signed = "https://oos.eu-west-2.outscale.com/backups/disk.qcow2?AWSAccessKeyId=OSCAKTEST00000000001&Expires=1795000000&Signature=cHJlLXNpZ25lZC1zZWNyZXQ%3D";
    let out = Snapctl::outscale(&server)
        .run(&[
            "-vv",
            "snapshot",
            "import",
            "--file-location",
            signed,
            "--size",
            "10737418240",
        ])
        .await;
    let err = stderr(&out);
    assert!(
        err.contains("\"FileLocation\""),
        "the body was not traced:\n{err}"
    );
    assert!(
        err.contains("https://oos.eu-west-2.outscale.com/backups/disk.qcow2?***"),
        "{err}"
    );
    assert!(
        !err.contains("cHJlLXNpZ25lZC1zZWNyZXQ"),
        "signature traced:\n{err}"
    );
    // The request itself still carried the real URL.
    let got = server.received_requests().await.unwrap_or_default();
    assert!(
        got.iter()
            .any(|r| String::from_utf8_lossy(&r.body).contains("cHJlLXNpZ25lZC1zZWNyZXQ")),
        "the API did not get the URL"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_emulator_refuses_a_non_loopback_listen_address() {
    // Refused before binding, so nothing ever listens beyond loopback.
    let cli = Snapctl::bare();
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        cli.run(&["emulator", "--listen", "0.0.0.0:0"]),
    )
    .await
    .expect("refused at once, not served");
    assert_exit(&out, 9);
    assert_stderr_has(&out, "refusing to serve the emulator on 0.0.0.0:0");
    assert_stderr_has(&out, "--allow-remote");
    assert!(out.stdout.is_empty(), "{}", stdout(&out));
}

/// A loopback listener standing in for a proxy: it records every connection's first bytes and
/// answers 502.
fn recording_proxy() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let _ = s.set_read_timeout(Some(std::time::Duration::from_millis(500)));
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            log.lock()
                .expect("log")
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            let _ = s.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
        }
    });
    (format!("http://{addr}"), seen)
}

/// With a proxy in the environment, plain-http requests to loopback never go through it (it would
/// read the Keystone password in clear text), and hosts that only look local (`x.localhost`,
/// `localhost.`, an IPv4-mapped address) are not loopback: plain http to them is refused before
/// anything is sent.
#[tokio::test(flavor = "multi_thread")]
async fn loopback_requests_never_go_through_a_proxy() {
    let emu = crate::emulator::start().await;
    let (proxy, seen) = recording_proxy();
    let port = emu.base().rsplit(':').next().expect("port").to_string();
    let mut cli = crate::emulator::Cli::new(&emu);
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cli.overrides.push((var.into(), proxy.clone()));
    }
    let out = cli
        .run(
            snapctl::provider::ProviderKind::Powervc,
            &["volume", "list"],
        )
        .await;
    assert_exit(&out, 0);
    for host in ["x.localhost", "localhost.", "[::ffff:7f00:1]"] {
        let mut cli = crate::emulator::Cli::new(&emu);
        for var in ["HTTP_PROXY", "http_proxy", "ALL_PROXY"] {
            cli.overrides.push((var.into(), proxy.clone()));
        }
        cli.overrides.push((
            "OS_AUTH_URL".into(),
            format!("http://{host}:{port}/identity/v3"),
        ));
        let out = cli
            .run(
                snapctl::provider::ProviderKind::Powervc,
                &["volume", "list"],
            )
            .await;
        assert_exit(&out, 9);
        assert_stderr_has(&out, "refusing plain http://");
    }
    let seen = seen.lock().expect("log");
    assert!(seen.is_empty(), "the proxy saw: {seen:?}");
}

/// A secret and its endpoint come as a pair from one source: with profiles that hold credentials,
/// `OVH_ENDPOINT`, `OSC_ENDPOINT_API` and `OS_AUTH_URL` in the environment (a dev cloud's, here a
/// recording listener standing in for `x.invalid`) never receive the profiles' secrets; an
/// explicit `--endpoint` beside `--profile` is the user's choice, warned with both named; and a
/// policy's `endpoint` that would move a profile's or the environment's credentials is refused
/// by validate (exit 2).
#[tokio::test(flavor = "multi_thread")]
async fn a_profiles_secrets_go_only_to_its_own_endpoint() {
    use snapctl::emulator as e;
    let emu = crate::emulator::start().await;
    let (foreign, seen) = recording_proxy();
    let mut cli = crate::emulator::Cli::new(&emu);
    let b = emu.base();
    let dir = cli.home().join("config/snapctl");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[profiles.prod-efs]\nprovider = \"ovh-efs\"\nendpoint = \"{b}/1.0\"\nservice = \"{}\"\napplication_key = \"{}\"\napplication_secret = \"{}\"\nconsumer_key = \"{}\"\n\n\
             [profiles.prod-osc]\nprovider = \"outscale\"\nendpoint = \"{b}/api/v1\"\nregion = \"{}\"\naccess_key = \"{}\"\nsecret_key = \"{}\"\n\n\
             [profiles.prod-powervc]\nprovider = \"powervc\"\nendpoint = \"{b}/identity/v3\"\nusername = \"{}\"\npassword = \"{}\"\nproject_name = \"ibm-default\"\n",
            e::EFS_SERVICE,
            e::OVH_AK,
            e::OVH_AS,
            e::OVH_CK,
            e::OSC_REGION,
            e::OSC_AK,
            e::OSC_SK,
            e::PVC_USER,
            e::PVC_PASSWORD,
        ),
    )
    .expect("write");
    for (k, v) in [
        ("OVH_ENDPOINT", format!("{foreign}/1.0")),
        ("OSC_ENDPOINT_API", format!("{foreign}/api/v1")),
        ("OS_AUTH_URL", format!("{foreign}/identity/v3")),
        ("OS_PASSWORD", "the-dev-password".to_string()),
    ] {
        cli.overrides.push((k.into(), v));
    }
    for profile in ["prod-efs", "prod-osc", "prod-powervc"] {
        let out = cli.bare(&["--profile", profile, "volume", "list"]).await;
        assert_exit(&out, 0);
    }
    assert!(seen.lock().expect("log").is_empty(), "{:?}", seen.lock());
    // --endpoint beside --profile: allowed, warned, both named.
    let out = cli
        .bare(&[
            "--profile",
            "prod-osc",
            "--endpoint",
            &format!("{foreign}/api/v1"),
            "volume",
            "list",
        ])
        .await;
    assert_stderr_has(&out, "overrides profile prod-osc's endpoint");
    assert_stderr_has(&out, &format!("{foreign}/api/v1"));
    seen.lock().expect("log").clear();
    // A policy's endpoint never moves a profile's or the environment's credentials.
    for (name, conn) in [
        (
            "with-profile",
            "profile = \"prod-powervc\"\nprovider = \"powervc\"",
        ),
        ("from-env", "provider = \"powervc\""),
    ] {
        let file = cli.home().join(format!("{name}.toml"));
        std::fs::write(
            &file,
            format!(
                "[[policy]]\nid = \"p\"\n{conn}\nendpoint = \"{foreign}/identity/v3\"\nevery = \"1h\"\nselect = {{ all = true }}\nkeep = {{ last = 1 }}\n"
            ),
        )
        .expect("write");
        for cmd in ["validate", "apply"] {
            let out = cli
                .bare(&["policy", cmd, "-f", file.to_str().expect("utf-8")])
                .await;
            assert_exit(&out, 2);
            assert_stderr_has(&out, "would receive the credentials");
        }
    }
    assert!(seen.lock().expect("log").is_empty(), "{:?}", seen.lock());
}
