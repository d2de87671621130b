"""python-ovh against the emulator (EFS and NAS-HA): create -> poll -> list -> update -> delete and
the error paths. Every answer must be JSON (python-ovh decodes every non-204 answer), and every
error OVH's shape ({"message", "class"} with an X-Ovh-QueryID)."""
import json
import os
from urllib.parse import urlsplit

import ovh
import ovh.client

import record
from openapi import Spec, errors
from record import step, expect_error, until

here = os.path.dirname(os.path.abspath(__file__))
specs = {
    "/storage/netapp": Spec(json.load(open(os.path.join(here, "specs/storagenetapp.json")))),
    "/dedicated/nasha": Spec(json.load(open(os.path.join(here, "specs/dedicatednasha.json")))),
}
base_path = urlsplit(os.environ["OVH_ENDPOINT"]).path.rstrip("/")
outside = []


def validate(method, url, body, status, doc):
    if status >= 400:
        assert isinstance(doc, dict) and doc.get("message"), f"{method} {url} -> {status}: {doc}"
        return
    path = urlsplit(url).path[len(base_path):]
    spec = next((s for prefix, s in specs.items() if path.startswith(prefix)), None)
    if spec is None:  # /auth/time: not part of either product's description
        outside.append(path)
        return
    validator, template = spec.operation(method, path)
    if validator is None:
        assert doc is None, f"{method} {template}: the description has no body, got {doc}"
        return
    found = errors(validator, doc)
    assert not found, f"{method} {template} -> {status}: {found}"


# python-ovh takes named endpoints only: register the emulator's.
ovh.client.ENDPOINTS["emulator"] = os.environ["OVH_ENDPOINT"]


def client(secret=None):
    return ovh.Client(endpoint="emulator", application_key=os.environ["OVH_APPLICATION_KEY"],
                      application_secret=secret or os.environ["OVH_APPLICATION_SECRET"],
                      consumer_key=os.environ["OVH_CONSUMER_KEY"])


c = client()
svc = "5e7a0f00-0000-4000-8000-000000000001"
base = f"/storage/netapp/{svc}"


step("EFS: services, shares, a blank share")
assert svc in [s["id"] for s in c.get("/storage/netapp")]
share = c.get(f"{base}/share")[0]["id"]
scratch = c.post(f"{base}/share", name="official", protocol="NFS", size=100)["id"]
until(lambda: c.get(f"{base}/share/{scratch}")["status"], lambda s: s == "available", "share")

step("EFS: snapshot create, poll until available, list, show")
made = c.post(f"{base}/share/{share}/snapshot", name="from-python-ovh", description="official")
snap = made["id"]
until(lambda: c.get(f"{base}/share/{share}/snapshot/{snap}")["status"], lambda s: s == "available", "snapshot")
listed = c.get(f"{base}/share/{share}/snapshot", detail=True)
assert snap in [s["id"] for s in listed], listed
assert snap in [s["id"] for s in c.get(f"{base}/share/{share}/snapshot")]

step("EFS: update name and description, snapshot policy, then delete")
c.put(f"{base}/share/{share}/snapshot/{snap}", name="renamed", description="still official")
assert c.get(f"{base}/share/{share}/snapshot/{snap}")["name"] == "renamed"
assert c.delete(f"{base}/share/{share}/snapshot/{snap}") is None
until(lambda: [s["id"] for s in c.get(f"{base}/share/{share}/snapshot", detail=True)], lambda ids: snap not in ids, "deleted snapshot")
assert c.delete(f"{base}/share/{scratch}") is None

step("EFS: error paths")
expect_error(lambda: c.get(f"{base}/share/{share}/snapshot/00000000-0000-4000-8000-00000000dead"), 404, "an unknown snapshot")
expect_error(lambda: client(secret="x" * 32).get(f"{base}/share"), 400, "a bad signature")

step("NAS-HA: partitions, a custom snapshot, its listing, delete")
nas = "/dedicated/nasha/zpool-100001"
part = c.get(f"{nas}/partition")[0]
c.post(f"{nas}/partition/{part}/customSnapshot", name="official-py")
until(lambda: c.get(f"{nas}/partition/{part}/customSnapshot"), lambda names: "official-py" in names, "custom snapshot")
assert c.get(f"{nas}/partition/{part}/customSnapshot/official-py")["name"] == "official-py"
c.delete(f"{nas}/partition/{part}/customSnapshot/official-py")
expect_error(lambda: c.get(f"{nas}/partition/{part}/customSnapshot/never-made"), 404, "an unknown custom snapshot")

record.check(validate)
print(f"  = outside the products' descriptions (not validated): {sorted(set(outside))}")
