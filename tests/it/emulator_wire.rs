//! The emulator's OUTSCALE API on the wire, as an official client sees it: every filter of the
//! spec's `FiltersSnapshot`, `FiltersVolume` and `FiltersTag` that its state can answer, unknown
//! keys refused, `ReadTags`/`DeleteTags`, and the error codes of `gateway_errors.yaml`. Requests
//! are signed OSC4 like osc-sdk-python's (snapctl's own signer, a pure function).

use serde_json::{Value, json};
use snapctl::emulator::{OSC_AK, OSC_REGION, OSC_SK};
use snapctl::providers::outscale::sign::{OSC4, SignedRequest, authorization};

use crate::emulator::start;

/// One signed call: `(status, body)`. `raw` is sent as it is (a body that is not JSON too).
async fn osc(emu: &snapctl::emulator::Emulator, action: &str, raw: &str) -> (u16, Value) {
    let url = format!("{}/api/v1/{action}", emu.base());
    let host = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .expect("host")
        .to_string();
    let date = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let content_type = "application/json; charset=utf-8";
    let path = format!("/api/v1/{action}");
    let headers = [
        ("content-type", content_type),
        ("host", host.as_str()),
        ("x-osc-date", date.as_str()),
    ];
    let auth = authorization(
        OSC4,
        OSC_AK,
        OSC_SK,
        OSC_REGION,
        "api",
        &date,
        &SignedRequest {
            method: "POST",
            path: &path,
            headers: &headers,
            body: raw.as_bytes(),
        },
    );
    let resp = reqwest::Client::new()
        .post(&url)
        .header("Content-Type", content_type)
        .header("X-Osc-Date", &date)
        .header("Authorization", auth)
        .body(raw.to_string())
        .send()
        .await
        .expect("the emulator answers");
    let status = resp.status().as_u16();
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

async fn call(emu: &snapctl::emulator::Emulator, action: &str, body: Value) -> (u16, Value) {
    osc(emu, action, &body.to_string()).await
}

fn code(body: &Value) -> &str {
    body["Errors"][0]["Code"].as_str().unwrap_or("")
}

fn ids(body: &Value, list: &str, id: &str) -> Vec<String> {
    body[list]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| x[id].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn read_snapshots_answers_every_filter_of_the_spec_and_refuses_unknown_keys() {
    let emu = start().await;
    let vol = emu.demo_volume(snapctl::provider::ProviderKind::Outscale);
    let (_, made) = call(
        &emu,
        "CreateSnapshot",
        json!({"VolumeId": vol, "Description": "nightly db", "ClientToken": "tok-1"}),
    )
    .await;
    let snap = made["Snapshot"]["SnapshotId"]
        .as_str()
        .expect("id")
        .to_string();
    let (status, _) = call(
        &emu,
        "CreateTags",
        json!({"ResourceIds": [snap], "Tags": [{"Key": "env", "Value": "prod"}]}),
    )
    .await;
    assert_eq!(status, 200);
    let read = |filters: Value| {
        let emu = &emu;
        async move {
            let (status, body) = call(emu, "ReadSnapshots", json!({ "Filters": filters })).await;
            assert_eq!(status, 200, "{body}");
            ids(&body, "Snapshots", "SnapshotId")
        }
    };
    assert_eq!(read(json!({"TagKeys": ["env"]})).await, vec![snap.clone()]);
    assert_eq!(
        read(json!({"TagValues": ["prod"]})).await,
        vec![snap.clone()]
    );
    assert_eq!(
        read(json!({"Tags": ["env=prod"]})).await,
        vec![snap.clone()]
    );
    assert!(read(json!({"Tags": ["env=dev"]})).await.is_empty());
    assert_eq!(
        read(json!({"Descriptions": ["nightly db"]})).await,
        vec![snap.clone()]
    );
    assert_eq!(
        read(json!({"ClientTokens": ["tok-1"]})).await,
        vec![snap.clone()]
    );
    // Keys AND: a tag of this one and the volume of another.
    assert!(
        read(json!({"TagKeys": ["env"], "VolumeIds": ["vol-00000000"]}))
            .await
            .is_empty()
    );
    // The other account's public snapshot, and nothing else, is global.
    let public = read(json!({"PermissionsToCreateVolumeGlobalPermission": true})).await;
    assert_eq!(public.len(), 1, "{public:?}");
    assert!(!public.contains(&snap));
    let (_, shared) = call(
        &emu,
        "UpdateSnapshot",
        json!({"SnapshotId": snap, "PermissionsToCreateVolume": {"Additions": {"AccountIds": ["111122223333"]}}}),
    )
    .await;
    assert!(shared["Snapshot"].is_object(), "{shared}");
    assert_eq!(
        read(json!({"PermissionsToCreateVolumeAccountIds": ["111122223333"]})).await,
        vec![snap.clone()]
    );
    // Sizes and progress are numbers.
    assert!(read(json!({"VolumeSizes": [10]})).await.contains(&snap));
    assert!(read(json!({"VolumeSizes": [11]})).await.is_empty());
    // What the spec does not list is refused, as the gateway does (additionalProperties: false).
    let (status, body) = call(&emu, "ReadSnapshots", json!({"Filters": {"Bogus": ["x"]}})).await;
    assert_eq!((status, code(&body)), (400, "4045"), "{body}");
    let (status, body) = call(
        &emu,
        "ReadSnapshots",
        json!({"Filters": {"SnapshotIds": "snap-12345678"}}),
    )
    .await;
    assert_eq!((status, code(&body)), (400, "4108"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn read_volumes_answers_link_state_type_and_size_filters() {
    let emu = start().await;
    let read = |filters: Value| {
        let emu = &emu;
        async move {
            let (status, body) = call(emu, "ReadVolumes", json!({ "Filters": filters })).await;
            assert_eq!(status, 200, "{body}");
            ids(&body, "Volumes", "VolumeId")
        }
    };
    let all = read(json!({})).await;
    assert_eq!(all.len(), 2, "{all:?}");
    let in_use = read(json!({"VolumeStates": ["in-use"]})).await;
    assert_eq!(in_use.len(), 1);
    assert_eq!(
        read(json!({"LinkVolumeVmIds": ["i-0a1b2c3d"]})).await,
        in_use
    );
    assert_eq!(
        read(json!({"LinkVolumeLinkStates": ["attached"]})).await,
        in_use
    );
    assert_eq!(read(json!({"VolumeTypes": ["gp2"]})).await.len(), 2);
    assert_eq!(
        read(json!({"SubregionNames": ["eu-west-2a"]})).await.len(),
        2
    );
    assert!(read(json!({"VolumeSizes": [999]})).await.is_empty());
    assert_eq!(read(json!({"TagKeys": ["Name"]})).await.len(), 2);
    let (status, body) = call(&emu, "ReadVolumes", json!({"Filters": {"States": ["x"]}})).await;
    assert_eq!((status, code(&body)), (400, "4045"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn read_tags_and_delete_tags_are_served() {
    let emu = start().await;
    let vol = emu.demo_volume(snapctl::provider::ProviderKind::Outscale);
    let tagged = |filters: Value| {
        let emu = &emu;
        async move {
            let (status, body) = call(emu, "ReadTags", json!({ "Filters": filters })).await;
            assert_eq!(status, 200, "{body}");
            body["Tags"].as_array().cloned().unwrap_or_default()
        }
    };
    call(
        &emu,
        "CreateTags",
        json!({"ResourceIds": [vol], "Tags": [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "db"}]}),
    )
    .await;
    let mine = tagged(json!({"ResourceIds": [vol]})).await;
    let keys: Vec<&str> = mine.iter().filter_map(|t| t["Key"].as_str()).collect();
    assert!(keys.contains(&"env") && keys.contains(&"team"), "{mine:?}");
    assert!(mine.iter().all(|t| t["ResourceType"] == "volume"));
    assert_eq!(tagged(json!({"Keys": ["team"]})).await.len(), 1);
    // A value that does not match keeps the tag; a key alone removes it.
    let (status, _) = call(
        &emu,
        "DeleteTags",
        json!({"ResourceIds": [vol], "Tags": [{"Key": "env", "Value": "dev"}, {"Key": "team"}]}),
    )
    .await;
    assert_eq!(status, 200);
    let left: Vec<String> = tagged(json!({"ResourceIds": [vol]}))
        .await
        .iter()
        .filter_map(|t| t["Key"].as_str().map(str::to_string))
        .collect();
    assert!(left.contains(&"env".to_string()), "{left:?}");
    assert!(!left.contains(&"team".to_string()), "{left:?}");
    let (status, body) = call(
        &emu,
        "DeleteTags",
        json!({"ResourceIds": ["vol-00000000"], "Tags": [{"Key": "env"}]}),
    )
    .await;
    assert_eq!((status, code(&body)), (400, "5064"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_carry_the_codes_of_gateway_errors_yaml() {
    let emu = start().await;
    let (status, body) = osc(&emu, "ReadSnapshots", "not json").await;
    assert_eq!((status, code(&body)), (400, "4045"), "{body}");
    let (status, body) = call(&emu, "ReadSomethingElse", json!({})).await;
    assert_eq!((status, code(&body)), (400, "5038"), "{body}");
    let (status, body) = call(
        &emu,
        "CreateSnapshot",
        json!({"SourceSnapshotId": "snap-12345678", "SourceRegionName": "us-east-2", "ClientToken": "c"}),
    )
    .await;
    assert_eq!((status, code(&body)), (400, "5043"), "{body}");
    for (id, want) in [
        ("vol-12345678", "4104"),
        ("snap-zz", "4105"),
        ("snap-1234567890", "4105"),
        ("snap-00000000", "5054"),
    ] {
        let (status, body) = call(&emu, "DeleteSnapshot", json!({ "SnapshotId": id })).await;
        assert_eq!((status, code(&body)), (400, want), "{id}: {body}");
    }
    let (status, body) = call(
        &emu,
        "CreateSnapshot",
        json!({"VolumeId": "vol-nothex!", "ClientToken": "d"}),
    )
    .await;
    assert_eq!((status, code(&body)), (400, "4105"), "{body}");
}

/// A pre-signed GET of `key` in the emulator's `bucket`, signed now with the demo keys (what
/// `snapctl` hands to `CreateSnapshot` as `FileLocation`).
pub(crate) fn presigned(emu: &snapctl::emulator::Emulator, bucket: &str, key: &str) -> String {
    use snapctl::emulator::{OSC_AK, OSC_REGION, OSC_SK};
    let url = reqwest::Url::parse(&format!("{}/oos/{bucket}/{key}", emu.base())).expect("url");
    let date = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    snapctl::providers::outscale::sign::presign(
        (OSC_AK, OSC_SK),
        OSC_REGION,
        "s3",
        &date,
        600,
        "GET",
        &url,
    )
    .to_string()
}

/// Export the demo volume's seeded snapshot to `bucket` and wait until its image is there: the
/// image's key.
pub(crate) async fn exported(emu: &snapctl::emulator::Emulator, bucket: &str) -> String {
    let vol = emu.demo_volume(snapctl::provider::ProviderKind::Outscale);
    let (_, listed) = call(
        emu,
        "ReadSnapshots",
        json!({"Filters": {"VolumeIds": [vol]}}),
    )
    .await;
    let snap = listed["Snapshots"][0]["SnapshotId"]
        .as_str()
        .expect("a seeded snapshot")
        .to_string();
    let (status, body) = call(
        emu,
        "CreateSnapshotExportTask",
        json!({"SnapshotId": snap, "OsuExport": {"DiskImageFormat": "qcow2", "OsuBucket": bucket, "OsuPrefix": "t/"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for _ in 0..100 {
        if !emu.bucket_keys(bucket).is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        // Reads settle the exports that are done.
        call(emu, "ReadSnapshotExportTasks", json!({})).await;
    }
    let key = format!("t/{snap}.qcow2");
    assert_eq!(emu.bucket_keys(bucket), vec![key.clone()]);
    key
}

/// An imported snapshot has no volume: `VolumeId` is left out, never `null` (a string in the
/// schema); made without a description, its `Description` is the empty string, not `null`
/// (`scripts/official-clients.sh` found it validating the answers snapctl gets). Its `State` is
/// `importing` until done, as the spec's example shows. The image is read through a pre-signed
/// URL checked as OOS checks it: a URL signed for another object, an expired one, one without a
/// signature, or a `SnapshotSize` short of the volume is refused.
#[tokio::test(flavor = "multi_thread")]
async fn an_imported_snapshot_is_read_through_a_checked_pre_signed_url() {
    let emu = start().await;
    let key = exported(&emu, snapctl::emulator::OSC_BUCKET).await;
    let good = presigned(&emu, snapctl::emulator::OSC_BUCKET, &key);
    let refused = [
        good.replace(".qcow2", ".raw"),
        good.replace("X-Amz-Expires=600", "X-Amz-Expires=601"),
        good.split('?').next().expect("base").to_string(),
        "https://oos.eu-west-2.outscale.com/b/disk.qcow2".to_string(),
    ];
    for bad in refused {
        let (status, body) = call(
            &emu,
            "CreateSnapshot",
            json!({"FileLocation": bad, "SnapshotSize": 10737418240u64}),
        )
        .await;
        assert_eq!((status, code(&body)), (400, "4045"), "{bad}: {body}");
    }
    let (status, body) = call(
        &emu,
        "CreateSnapshot",
        json!({"FileLocation": good, "SnapshotSize": 1073741824u64}),
    )
    .await;
    assert_eq!((status, code(&body)), (400, "4045"), "too small: {body}");
    let (status, body) = call(
        &emu,
        "CreateSnapshot",
        json!({"FileLocation": good, "SnapshotSize": 10737418240u64, "ClientToken": "imp"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let snap = &body["Snapshot"];
    assert!(snap.get("VolumeId").is_none(), "{snap}");
    assert_eq!(snap["Description"], "", "{snap}");
    assert_eq!(snap["State"], "importing", "{snap}");
    let (_, listed) = call(
        &emu,
        "ReadSnapshots",
        json!({"Filters": {"SnapshotIds": [snap["SnapshotId"]]}}),
    )
    .await;
    assert!(listed["Snapshots"][0].get("VolumeId").is_none(), "{listed}");
    // The URL itself reads the object, as OUTSCALE would; a tampered one is AccessDenied.
    let http = reqwest::Client::new();
    let got = http.get(&good).send().await.expect("get");
    assert_eq!(got.status(), 200);
    let tampered = http
        .get(good.replace("X-Amz-Expires=600", "X-Amz-Expires=601"))
        .send()
        .await
        .expect("get");
    assert_eq!(tampered.status(), 403);
    assert!(
        tampered
            .text()
            .await
            .expect("body")
            .contains("<Code>AccessDenied</Code>")
    );
}

/// A Keystone token for the emulator's PowerVC and the project's volume base URL.
async fn cinder(emu: &snapctl::emulator::Emulator) -> (reqwest::Client, String, String) {
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{}/identity/v3/auth/tokens", emu.base()))
        .json(
            &json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": snapctl::emulator::PVC_USER, "domain": {"id": "default"},
            "password": snapctl::emulator::PVC_PASSWORD}}},
            "scope": {"project": {"name": "ibm-default", "domain": {"id": "default"}}}}}),
        )
        .send()
        .await
        .expect("keystone answers");
    assert_eq!(resp.status().as_u16(), 201);
    let token = resp
        .headers()
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .expect("a token")
        .to_string();
    // A project-scoped token says it is not a domain, as Keystone's does.
    let body: Value = resp.json().await.expect("token body");
    assert_eq!(body["token"]["is_domain"], false, "{body}");
    let base = format!(
        "{}/volume/v3/{}",
        emu.base(),
        snapctl::emulator::PVC_PROJECT
    );
    (http, token, base)
}

async fn get(
    (http, token, base): &(reqwest::Client, String, String),
    path: &str,
    version: Option<&str>,
) -> (u16, Option<String>, Value) {
    let mut req = http
        .get(format!("{base}/{path}"))
        .header("X-Auth-Token", token);
    if let Some(v) = version {
        req = req.header("OpenStack-API-Version", format!("volume {v}"));
    }
    let resp = req.send().await.expect("cinder answers");
    let status = resp.status().as_u16();
    let speaks = resp
        .headers()
        .get("openstack-api-version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, speaks, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn cinder_lists_sort_filter_page_and_negotiate_as_cinder_does() {
    let emu = start().await;
    let c = cinder(&emu).await;
    let vol = emu.demo_volume(snapctl::provider::ProviderKind::Powervc);
    let made =
        c.0.post(format!("{}/snapshots", c.2))
            .header("X-Auth-Token", &c.1)
            .json(&json!({"snapshot": {"volume_id": vol, "name": "newer"}}))
            .send()
            .await
            .expect("cinder answers");
    assert_eq!(made.status().as_u16(), 202);
    // Newest first by default (created_at, then id, descending), as Cinder sorts.
    let (status, speaks, body) = get(&c, "snapshots/detail", None).await;
    assert_eq!(status, 200);
    assert_eq!(speaks.as_deref(), Some("volume 3.0"));
    let created: Vec<&str> = body["snapshots"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["created_at"].as_str())
        .collect();
    assert!(created.len() >= 2, "{body}");
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "{created:?}");
    assert_eq!(body["snapshots"][0]["name"], "newer", "{body}");
    let (_, _, asc) = get(&c, "snapshots/detail?sort=created_at:asc", None).await;
    let first = asc["snapshots"][0]["created_at"].as_str().unwrap_or("");
    assert_eq!(first, *created.last().expect("one"));
    let (status, _, bad) = get(&c, "volumes/detail?sort=colour", None).await;
    assert_eq!(status, 400, "{bad}");
    // name= is exact.
    let (_, _, named) = get(&c, "volumes/detail?name=db-data", None).await;
    let names: Vec<&str> = named["volumes"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(names, ["db-data"]);
    // A marker the list does not hold fails the page (MarkerNotFound), never an empty end.
    let (status, _, gone) = get(
        &c,
        "volumes/detail?marker=00000000-0000-4000-8000-000000000000",
        None,
    )
    .await;
    assert_eq!(status, 404, "{gone}");
    assert!(
        gone["itemNotFound"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Marker")),
        "{gone}"
    );
    // Microversions: echoed, counted from 3.45, refused beyond 3.71 (the documented 406).
    let (status, speaks, counted) = get(&c, "volumes/detail?with_count=true", Some("3.45")).await;
    assert_eq!(status, 200);
    assert_eq!(speaks.as_deref(), Some("volume 3.45"));
    assert_eq!(counted["count"], 2, "{counted}");
    let (_, _, uncounted) = get(&c, "volumes/detail?with_count=true", None).await;
    assert!(uncounted.get("count").is_none(), "{uncounted}");
    let (status, _, refused) = get(&c, "volumes/detail", Some("3.99")).await;
    assert_eq!(status, 406, "{refused}");
    assert_eq!(
        refused["computeFault"]["message"],
        "Version 3.99 is not supported by the API. Minimum is 3.0 and maximum is 3.71."
    );
    // Every field the api-ref marks required in a volume.
    let (_, _, vols) = get(&c, "volumes/detail", None).await;
    for field in [
        "encrypted",
        "links",
        "user_id",
        "updated_at",
        "replication_status",
        "migration_status",
        "consistencygroup_id",
    ] {
        assert!(
            vols["volumes"][0].get(field).is_some(),
            "{field} missing: {}",
            vols["volumes"][0]
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cinder_snapshots_validate_creates_and_track_updates_and_metadata() {
    let emu = start().await;
    let c = cinder(&emu).await;
    let (http, token, base) = &c;
    let vol = emu.demo_volume(snapctl::provider::ProviderKind::Powervc);
    let create = |body: Value| async move {
        let resp = http
            .post(format!("{base}/snapshots"))
            .header("X-Auth-Token", token)
            .json(&body)
            .send()
            .await
            .expect("cinder answers");
        (
            resp.status().as_u16(),
            resp.json::<Value>().await.unwrap_or(Value::Null),
        )
    };
    let (status, body) = create(json!({"snapshot": {"volume_id": vol, "colour": "red"}})).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["badRequest"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("'colour' was unexpected")),
        "{body}"
    );
    let (status, body) = create(json!({"snapshot": {"volume_id": vol, "name": "s1"}})).await;
    assert_eq!(status, 202, "{body}");
    let id = body["snapshot"]["id"].as_str().expect("id").to_string();
    assert!(body["snapshot"]["updated_at"].is_null());
    let resp = http
        .put(format!("{base}/snapshots/{id}"))
        .header("X-Auth-Token", token)
        .json(&json!({"snapshot": {"name": "s2"}}))
        .send()
        .await
        .expect("cinder answers");
    let updated: Value = resp.json().await.expect("json");
    assert!(updated["snapshot"]["updated_at"].is_string(), "{updated}");
    // Snapshot metadata: POST merges, PUT replaces, GET reads.
    let meta = |method: reqwest::Method, body: Option<Value>| {
        let url = format!("{base}/snapshots/{id}/metadata");
        async move {
            let mut req = http.request(method, url).header("X-Auth-Token", token);
            if let Some(b) = body {
                req = req.json(&b);
            }
            let resp = req.send().await.expect("cinder answers");
            (
                resp.status().as_u16(),
                resp.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, _) = meta(reqwest::Method::POST, Some(json!({"metadata": {"a": "1"}}))).await;
    assert_eq!(status, 200);
    meta(reqwest::Method::POST, Some(json!({"metadata": {"b": "2"}}))).await;
    let (_, got) = meta(reqwest::Method::GET, None).await;
    assert_eq!(got["metadata"], json!({"a": "1", "b": "2"}));
    meta(reqwest::Method::PUT, Some(json!({"metadata": {"c": "3"}}))).await;
    let (_, got) = meta(reqwest::Method::GET, None).await;
    assert_eq!(got["metadata"], json!({"c": "3"}));
}

/// A script's scratch volume on Cinder: created blank, updated, refused while it has snapshots
/// or is attached, deleted with `cascade`; `limits` and `resource_filters` answer.
#[tokio::test(flavor = "multi_thread")]
async fn cinder_volumes_are_created_blank_updated_and_deleted_with_cinders_rules() {
    let emu = start().await;
    let c = cinder(&emu).await;
    let (http, token, base) = &c;
    let send = |method: reqwest::Method, path: String, body: Option<Value>| async move {
        let mut req = http
            .request(method, format!("{base}/{path}"))
            .header("X-Auth-Token", token)
            .header("OpenStack-API-Version", "volume 3.33");
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("cinder answers");
        (
            resp.status().as_u16(),
            resp.json::<Value>().await.unwrap_or(Value::Null),
        )
    };
    let (status, made) = send(
        reqwest::Method::POST,
        "volumes".into(),
        Some(json!({"volume": {"size": 1, "name": "scratch"}})),
    )
    .await;
    assert_eq!(status, 202, "{made}");
    let id = made["volume"]["id"].as_str().expect("id").to_string();
    let (status, none) = send(
        reqwest::Method::POST,
        "volumes".into(),
        Some(json!({"volume": {"name": "no-size"}})),
    )
    .await;
    assert_eq!(status, 400, "{none}");
    let (status, updated) = send(
        reqwest::Method::PUT,
        format!("volumes/{id}"),
        Some(json!({"volume": {"description": "for a test", "metadata": {"k": "v"}}})),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["volume"]["description"], "for a test");
    assert_eq!(updated["volume"]["metadata"], json!({"k": "v"}));
    // Wait until it is available, then give it a snapshot.
    for _ in 0..100 {
        let (_, v) = send(reqwest::Method::GET, format!("volumes/{id}"), None).await;
        if v["volume"]["status"] == "available" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // A clone of it (`source_volid`): at least its size, named after nothing but what is given.
    let (status, clone) = send(
        reqwest::Method::POST,
        "volumes".into(),
        Some(json!({"volume": {"source_volid": id, "name": "scratch-clone"}})),
    )
    .await;
    assert_eq!(status, 202, "{clone}");
    assert_eq!(clone["volume"]["source_volid"], id.as_str());
    assert_eq!(clone["volume"]["size"], 1);
    assert_eq!(clone["volume"]["status"], "creating");
    let clone_id = clone["volume"]["id"].as_str().expect("id").to_string();
    let (status, _) = send(reqwest::Method::GET, format!("volumes/{clone_id}"), None).await;
    assert_eq!(status, 200);
    for (body, want) in [
        (json!({"source_volid": id, "size": 0}), 400),
        (json!({"source_volid": id, "snapshot_id": id}), 400),
        (
            json!({"source_volid": "00000000-0000-4000-8000-00000000dead"}),
            404,
        ),
        // A volume still being made cannot be cloned.
        (json!({"source_volid": clone_id}), 400),
    ] {
        let (status, fault) = send(
            reqwest::Method::POST,
            "volumes".into(),
            Some(json!({ "volume": body })),
        )
        .await;
        assert_eq!(status, want, "{body}: {fault}");
    }
    let (status, _) = send(
        reqwest::Method::POST,
        "snapshots".into(),
        Some(json!({"snapshot": {"volume_id": id, "name": "s"}})),
    )
    .await;
    assert_eq!(status, 202);
    let (status, refused) = send(reqwest::Method::DELETE, format!("volumes/{id}"), None).await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["badRequest"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("have snapshots")),
        "{refused}"
    );
    let (status, _) = send(
        reqwest::Method::DELETE,
        format!("volumes/{id}?cascade=true"),
        None,
    )
    .await;
    assert_eq!(status, 202);
    let (_, v) = send(reqwest::Method::GET, format!("volumes/{id}"), None).await;
    assert_eq!(v["volume"]["status"], "deleting", "{v}");
    // An attached volume is refused unless forced.
    let (_, vols) = send(reqwest::Method::GET, "volumes/detail".into(), None).await;
    let attached = vols["volumes"]
        .as_array()
        .and_then(|a| a.iter().find(|v| v["status"] == "in-use"))
        .and_then(|v| v["id"].as_str())
        .expect("an attached volume")
        .to_string();
    let (status, _) = send(reqwest::Method::DELETE, format!("volumes/{attached}"), None).await;
    assert_eq!(status, 400);
    let (status, limits) = send(reqwest::Method::GET, "limits".into(), None).await;
    assert_eq!(status, 200);
    assert!(limits["limits"]["absolute"]["totalVolumesUsed"].is_number());
    let (status, filters) = send(reqwest::Method::GET, "resource_filters".into(), None).await;
    assert_eq!(status, 200, "{filters}");
    let (status, _, _) = get(&c, "resource_filters", Some("3.32")).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn outscale_volumes_grow_and_are_deleted_unless_in_use() {
    let emu = start().await;
    let (status, made) = call(
        &emu,
        "CreateVolume",
        json!({"SubregionName": "eu-west-2a", "Size": 4, "ClientToken": "scratch"}),
    )
    .await;
    assert_eq!(status, 200, "{made}");
    let id = made["Volume"]["VolumeId"].as_str().expect("id").to_string();
    let (status, grown) = call(&emu, "UpdateVolume", json!({"VolumeId": id, "Size": 8})).await;
    assert_eq!(status, 200, "{grown}");
    assert_eq!(grown["Volume"]["Size"], 8);
    let (status, body) = call(&emu, "UpdateVolume", json!({"VolumeId": id, "Size": 2})).await;
    assert_eq!((status, code(&body)), (400, "4078"), "{body}");
    let (_, listed) = call(
        &emu,
        "ReadVolumes",
        json!({"Filters": {"VolumeStates": ["in-use"]}}),
    )
    .await;
    let in_use = listed["Volumes"][0]["VolumeId"]
        .as_str()
        .expect("one")
        .to_string();
    let (status, body) = call(&emu, "DeleteVolume", json!({ "VolumeId": in_use })).await;
    assert_eq!((status, code(&body)), (409, "6007"), "{body}");
    let (status, _) = call(&emu, "DeleteVolume", json!({ "VolumeId": id })).await;
    assert_eq!(status, 200);
    let (status, body) = call(&emu, "DeleteVolume", json!({ "VolumeId": id })).await;
    assert_eq!((status, code(&body)), (400, "5064"), "{body}");
}

/// `POST /_emulator/state` makes a documented state the emulator never reaches by itself
/// reachable (OUTSCALE `error`, Cinder `error`, EFS type `system`), so a client's handling of it
/// can be tested; snapctl reports each as such. Words the API does not document are refused.
#[tokio::test(flavor = "multi_thread")]
async fn documented_states_are_reachable_with_a_fault_switch() {
    use snapctl::provider::ProviderKind;
    let emu = start().await;
    let cli = crate::emulator::Cli::new(&emu);
    let force = |body: Value| {
        let url = format!("{}/_emulator/state", emu.base());
        async move {
            let resp = reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .expect("the emulator answers");
            resp.status().as_u16()
        }
    };
    for (kind, field, word, field_out, want) in [
        (ProviderKind::Outscale, "state", "error", "state", "error"),
        (ProviderKind::Powervc, "state", "error", "state", "error"),
        (ProviderKind::OvhEfs, "state", "error", "state", "error"),
        (ProviderKind::OvhEfs, "type", "system", "kind", "system"),
    ] {
        let vol = emu.demo_volume(kind);
        let listed = cli
            .json(kind, &["snapshot", "list", "--volume", &vol])
            .await;
        let id = listed[0]["id"]
            .as_str()
            .expect("a seeded snapshot")
            .to_string();
        assert_eq!(force(json!({"id": id, field: word})).await, 200, "{kind}");
        let listed = cli
            .json(kind, &["snapshot", "list", "--volume", &vol])
            .await;
        let snap = listed
            .as_array()
            .and_then(|a| a.iter().find(|s| s["id"] == id.as_str()))
            .expect("still listed");
        assert_eq!(snap[field_out], want, "{kind}: {snap}");
    }
    let some = cli
        .json(ProviderKind::Outscale, &["snapshot", "list"])
        .await;
    let id = some[0]["id"].as_str().expect("one").to_string();
    assert_eq!(force(json!({"id": id, "state": "melted"})).await, 400);
    assert_eq!(
        force(json!({"id": "snap-00000000", "state": "error"})).await,
        404
    );
}

/// One OVH call signed as python-ovh signs it: `(status, body)`.
async fn ovh_call(
    emu: &snapctl::emulator::Emulator,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}/1.0{path}", emu.base());
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let ts = jiff::Timestamp::now().as_second();
    let sig = snapctl::providers::ovh::sign::signature(
        snapctl::emulator::OVH_AS,
        snapctl::emulator::OVH_CK,
        method.as_str(),
        &url,
        bytes.as_bytes(),
        ts,
    );
    let resp = reqwest::Client::new()
        .request(method, &url)
        .header("X-Ovh-Application", snapctl::emulator::OVH_AK)
        .header("X-Ovh-Consumer", snapctl::emulator::OVH_CK)
        .header("X-Ovh-Timestamp", ts.to_string())
        .header("X-Ovh-Signature", sig)
        .header("Content-Type", "application/json")
        .body(bytes)
        .send()
        .await
        .expect("the emulator answers");
    (
        resp.status().as_u16(),
        resp.json::<Value>().await.unwrap_or(Value::Null),
    )
}

/// EFS shares are made blank (100 GB to 29 TB) and deleted; one with snapshots is refused, as
/// Manila, under EFS, refuses it.
#[tokio::test(flavor = "multi_thread")]
async fn efs_shares_are_created_blank_and_deleted_unless_they_have_snapshots() {
    use reqwest::Method;
    let emu = start().await;
    let svc = snapctl::emulator::EFS_SERVICE;
    let (status, small) = ovh_call(
        &emu,
        Method::POST,
        &format!("/storage/netapp/{svc}/share"),
        Some(json!({"name": "tiny", "protocol": "NFS", "size": 50})),
    )
    .await;
    assert_eq!(status, 400, "{small}");
    let (status, made) = ovh_call(
        &emu,
        Method::POST,
        &format!("/storage/netapp/{svc}/share"),
        Some(json!({"name": "scratch", "protocol": "NFS", "size": 100})),
    )
    .await;
    assert_eq!(status, 200, "{made}");
    assert_eq!(made["status"], "creating");
    let share = made["id"].as_str().expect("id").to_string();
    let (status, gone) = ovh_call(
        &emu,
        Method::DELETE,
        &format!("/storage/netapp/{svc}/share/{share}"),
        None,
    )
    .await;
    assert_eq!((status, gone), (200, Value::Null));
    // `deleting` for the emulator's delay, then gone (404), never anything else.
    let mut gone = false;
    for _ in 0..200 {
        let (status, now) = ovh_call(
            &emu,
            Method::GET,
            &format!("/storage/netapp/{svc}/share/{share}"),
            None,
        )
        .await;
        if status == 404 {
            gone = true;
            break;
        }
        assert_eq!(now["status"], "deleting", "{now}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(gone, "the share never went");
    // A seeded share has snapshots: refused.
    let seeded = emu.demo_volume(snapctl::provider::ProviderKind::OvhEfs);
    let (status, refused) = ovh_call(
        &emu,
        Method::DELETE,
        &format!("/storage/netapp/{svc}/share/{seeded}"),
        None,
    )
    .await;
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("dependent snapshots")),
        "{refused}"
    );
}

/// An OVH route the emulator does not serve (a share's ACL) answers 501 in OVH's error
/// shape, never a 404 that a client would read as "already gone".
#[tokio::test(flavor = "multi_thread")]
async fn ovh_routes_the_emulator_does_not_serve_answer_501_not_404() {
    let emu = start().await;
    let share = emu.demo_volume(snapctl::provider::ProviderKind::OvhEfs);
    let (status, body) = ovh_call(
        &emu,
        reqwest::Method::GET,
        &format!(
            "/storage/netapp/{}/share/{share}/acl",
            snapctl::emulator::EFS_SERVICE
        ),
        None,
    )
    .await;
    assert_eq!(status, 501, "{body}");
    assert_eq!(body["class"], "Server::NotImplemented", "{body}");
}

/// The emulator holds Cinder's limits as Cinder does, so no local user can grow it without
/// bound: a description over 255 characters is refused (400, not quoted back whole), a body
/// over the emulator's cap is refused (413), snapshots stop at the quota its own `/limits`
/// announces (413 `overLimit`), and a volume of 18446744073709551615 GiB is refused by the
/// gigabytes quota instead of wrapping the total past it.
#[tokio::test(flavor = "multi_thread")]
async fn cinder_limits_and_quotas_are_held() {
    let emu = start().await;
    let c = cinder(&emu).await;
    let (http, token, base) = &c;
    let vol = emu.demo_volume(snapctl::provider::ProviderKind::Powervc);
    let post = |path: &'static str, body: Value| async move {
        let resp = http
            .post(format!("{base}/{path}"))
            .header("X-Auth-Token", token)
            .json(&body)
            .send()
            .await
            .expect("cinder answers");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, text)
    };
    let long = "d".repeat(256);
    let (status, text) = post(
        "snapshots",
        json!({"snapshot": {"volume_id": vol, "description": long}}),
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("is too long") && text.len() < 1024, "{text}");
    let huge = "d".repeat(snapctl::emulator::MAX_REQUEST_BODY + 1);
    let (status, _) = post(
        "snapshots",
        json!({"snapshot": {"volume_id": vol, "description": huge}}),
    )
    .await;
    assert_eq!(status, 413);
    let (status, text) = post("volumes", json!({"volume": {"size": u64::MAX}})).await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("gigabytes quota"), "{text}");
    let limits: Value = get(&c, "limits", None).await.2;
    let absolute = &limits["limits"]["absolute"];
    let max = absolute["maxTotalSnapshots"].as_u64().expect("max") as usize;
    let used = absolute["totalSnapshotsUsed"].as_u64().expect("used") as usize;
    assert!(
        absolute["totalGigabytesUsed"].as_u64().expect("gigabytes")
            <= absolute["maxTotalVolumeGigabytes"]
                .as_u64()
                .expect("max gigabytes")
    );
    for i in used..max {
        let (status, text) = post(
            "snapshots",
            json!({"snapshot": {"volume_id": vol, "name": format!("s{i}")}}),
        )
        .await;
        assert_eq!(status, 202, "{i}: {text}");
    }
    let (status, text) = post(
        "snapshots",
        json!({"snapshot": {"volume_id": vol, "name": "one-too-many"}}),
    )
    .await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("SnapshotLimitExceeded"), "{text}");
}
