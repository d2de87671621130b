"""osc-sdk-python against the emulator: a long scenario, every answer validated against the
OpenAPI description the SDK itself bundles (resources/outscale.yaml, additionalProperties false)."""
import os

import yaml

import record
from openapi import Spec, errors
from record import step, expect_error, until
import osc_sdk_python
from osc_sdk_python import Gateway

spec = Spec(yaml.safe_load(open(os.path.join(os.path.dirname(osc_sdk_python.__file__), "resources/outscale.yaml"))))


def validate(method, url, body, status, doc):
    action = url.rstrip("/").rsplit("/", 1)[-1]
    name = f"{action}Response" if status < 300 else "ErrorResponse"
    found = errors(spec.named(name), doc)
    assert not found, f"{action} -> {status}: {name}: {found}"
    if status >= 300:
        assert doc["Errors"] and doc["ResponseContext"]["RequestId"], doc


gw = Gateway()  # OSC_ACCESS_KEY, OSC_SECRET_KEY, OSC_REGION, OSC_ENDPOINT_API


step("CreateVolume (blank, 4 GiB) and poll ReadVolumes until available")
vol = gw.CreateVolume(SubregionName=os.environ["OSC_REGION"] + "a", Size=4, ClientToken="official-1")["Volume"]["VolumeId"]
again = gw.CreateVolume(SubregionName=os.environ["OSC_REGION"] + "a", Size=4, ClientToken="official-1")["Volume"]["VolumeId"]
assert again == vol, "the same ClientToken answers the same volume"
until(lambda: gw.ReadVolumes(Filters={"VolumeIds": [vol]})["Volumes"][0]["State"], lambda s: s == "available", "volume")
step("UpdateVolume grows it to 6 GiB")
assert gw.UpdateVolume(VolumeId=vol, Size=6)["Volume"]["Size"] == 6

step("CreateSnapshot, twice with one ClientToken, and poll until completed")
made = gw.CreateSnapshot(VolumeId=vol, Description="official client", ClientToken="official-snap")["Snapshot"]
assert gw.CreateSnapshot(VolumeId=vol, Description="official client", ClientToken="official-snap")["Snapshot"]["SnapshotId"] == made["SnapshotId"]
snap = made["SnapshotId"]
until(lambda: gw.ReadSnapshots(Filters={"SnapshotIds": [snap]})["Snapshots"][0]["State"], lambda s: s == "completed", "snapshot")

step("CreateTags, then ReadSnapshots with every filter the state answers")
gw.CreateTags(ResourceIds=[snap], Tags=[{"Key": "Name", "Value": "official"}, {"Key": "team", "Value": "dba"}])
gw.CreateTags(ResourceIds=[vol], Tags=[{"Key": "Name", "Value": "official-volume"}])
own = gw.ReadAccounts()["Accounts"][0]["AccountId"]
for filters in [
    {"SnapshotIds": [snap]},
    {"VolumeIds": [vol]},
    {"AccountIds": [own]},
    {"Descriptions": ["official client"]},
    {"States": ["completed"]},
    {"TagKeys": ["team"]},
    {"TagValues": ["dba"]},
    {"Tags": ["team=dba"]},
    {"VolumeSizes": [6]},
    {"PermissionsToCreateVolumeGlobalPermission": False},
    {"Progresses": [100]},
]:
    got = [s["SnapshotId"] for s in gw.ReadSnapshots(Filters=filters)["Snapshots"]]
    assert snap in got, (filters, got)
assert gw.ReadSnapshots(Filters={"TagValues": ["nobody"], "SnapshotIds": [snap]})["Snapshots"] == []
for filters in [{"VolumeIds": [vol]}, {"Tags": ["Name=official-volume"]}, {"VolumeStates": ["available", "in-use"]}]:
    assert gw.ReadVolumes(Filters=filters)["Volumes"], filters
tags = gw.ReadTags(Filters={"ResourceIds": [snap]})["Tags"]
assert {t["Key"] for t in tags} == {"Name", "team"}, tags

step("ReadSnapshots page by page (ResultsPerPage 1, NextPageToken)")
seen, token = [], None
while True:
    args = {"Filters": {"AccountIds": [own]}, "ResultsPerPage": 1}
    if token:
        args["NextPageToken"] = token
    page = gw.ReadSnapshots(**args)
    seen += [s["SnapshotId"] for s in page["Snapshots"]]
    token = page.get("NextPageToken")
    if not token:
        break
assert len(seen) == len(set(seen)) and snap in seen and len(seen) >= 2, seen

step("UpdateSnapshot permissions, DeleteTags")
gw.UpdateSnapshot(SnapshotId=snap, PermissionsToCreateVolume={"Additions": {"AccountIds": ["123456789012"]}})
perms = gw.ReadSnapshots(Filters={"SnapshotIds": [snap]})["Snapshots"][0]["PermissionsToCreateVolume"]
assert "123456789012" in perms["AccountIds"], perms
gw.DeleteTags(ResourceIds=[snap], Tags=[{"Key": "team", "Value": "dba"}])
assert {t["Key"] for t in gw.ReadTags(Filters={"ResourceIds": [snap]})["Tags"]} == {"Name"}

step("error paths")
expect_error(lambda: gw.ReadSnapshots(Filters={"Bogus": ["x"]}), 400, "an unknown filter")
expect_error(lambda: gw.DeleteSnapshot(SnapshotId="snap-00000000"), 400, "an unknown snapshot")
expect_error(lambda: gw.DeleteSnapshot(SnapshotId="vol-12345678"), 400, "another kind's id")
expect_error(lambda: gw.UpdateVolume(VolumeId=vol, Size=2), 400, "a volume shrunk")
secret = os.environ["OSC_SECRET_KEY"]
os.environ["OSC_SECRET_KEY"] = "x" * 40
bad = Gateway(max_retries=0)
os.environ["OSC_SECRET_KEY"] = secret
expect_error(lambda: bad.ReadVolumes(), 401, "a bad signature")

step("DeleteSnapshot, then DeleteVolume")
gw.DeleteSnapshot(SnapshotId=snap)
until(lambda: gw.ReadSnapshots(Filters={"SnapshotIds": [snap]})["Snapshots"], lambda s: s == [], "deleted snapshot")
gw.DeleteVolume(VolumeId=vol)
until(lambda: gw.ReadVolumes(Filters={"VolumeIds": [vol]})["Volumes"], lambda v: v == [], "deleted volume")

record.check(validate)
