"""openstacksdk against the emulator (Keystone v3 + Cinder v3): a scratch volume, a snapshot
polled to available, filtered and paged listings, update, delete, and the error paths. Every
error must be Cinder's fault shape ({"<fault>": {"code", "message"}})."""
import openstack
import openstack.exceptions

import record
from record import step, expect_error


def validate(method, url, body, status, doc):
    if status >= 400:
        assert isinstance(doc, dict) and len(doc) == 1, f"{method} {url} -> {status}: {doc}"
        fault = next(iter(doc.values()))
        if "auth/tokens" not in url:
            assert fault.get("code") == status and fault.get("message"), f"{url} -> {status}: {doc}"
        else:
            assert fault.get("code") == status, f"{url} -> {status}: {doc}"


conn = openstack.connect()  # the OS_* environment
bs = conn.block_storage

step("a blank volume, polled to available")
vol = bs.create_volume(size=1, name="official-scratch")
vol = bs.wait_for_status(vol, status="available", wait=20, interval=0.1)

step("a snapshot, polled to available")
snap = bs.create_snapshot(volume_id=vol.id, name="from-openstacksdk", description="official")
snap = bs.wait_for_status(snap, status="available", wait=20, interval=0.1)

step("listings: by name, status, volume, paged one at a time")
assert [s.id for s in bs.snapshots(name="from-openstacksdk")] == [snap.id]
assert snap.id in [s.id for s in bs.snapshots(status="available")]
assert [s.id for s in bs.snapshots(volume_id=vol.id)] == [snap.id]
paged = [s.id for s in bs.snapshots(limit=1)]
assert len(paged) == len(set(paged)) >= 2 and snap.id in paged, paged
assert vol.id in [v.id for v in bs.volumes(limit=1)]

step("update, metadata")
bs.update_snapshot(snap, name="renamed", description="still official")
assert bs.get_snapshot(snap.id).name == "renamed"
bs.set_snapshot_metadata(snap, team="dba")
assert bs.get_snapshot_metadata(snap).metadata.get("team") == "dba"

step("error paths")
expect_error(lambda: bs.get_snapshot("00000000-0000-4000-8000-00000000dead"), 404, "an unknown snapshot")
expect_error(lambda: bs.delete_volume(vol), 400, "a volume with snapshots")

step("delete the snapshot, then the volume")
bs.delete_snapshot(snap)
bs.wait_for_delete(snap, interval=0.1, wait=20)
bs.delete_volume(vol)
bs.wait_for_delete(vol, interval=0.1, wait=20)

step("a wrong password")
bad = openstack.connect(password="wrong")
expect_error(lambda: next(bad.block_storage.volumes()), 401, "Keystone refuses it")

record.check(validate)
