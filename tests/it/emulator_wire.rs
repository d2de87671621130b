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

/// An imported snapshot has no volume: `VolumeId` is left out, never `null` (a string in the
/// schema).
#[tokio::test(flavor = "multi_thread")]
async fn an_imported_snapshot_has_no_volume_id_key() {
    let emu = start().await;
    let (status, body) = call(
        &emu,
        "CreateSnapshot",
        json!({"FileLocation": "https://oos.eu-west-2.outscale.com/b/disk.qcow2", "SnapshotSize": 10737418240u64, "ClientToken": "imp"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let snap = &body["Snapshot"];
    assert!(snap.get("VolumeId").is_none(), "{snap}");
    let (_, listed) = call(
        &emu,
        "ReadSnapshots",
        json!({"Filters": {"SnapshotIds": [snap["SnapshotId"]]}}),
    )
    .await;
    assert!(listed["Snapshots"][0].get("VolumeId").is_none(), "{listed}");
}
