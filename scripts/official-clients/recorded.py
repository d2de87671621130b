"""The answers `snapctl emulator --record FILE` recorded while snapctl itself ran (every command on
every provider), checked as the clients' own answers are: OUTSCALE against the OpenAPI file
osc-sdk-python bundles, OVH against OVHcloud's descriptions, Cinder and Keystone for their fault
shape and the fields their api-ref marks required in a volume and a snapshot."""
import json
import os
import sys
from collections import Counter

import yaml
import osc_sdk_python

from openapi import Spec, errors

here = os.path.dirname(os.path.abspath(__file__))
osc = Spec(yaml.safe_load(open(os.path.join(os.path.dirname(osc_sdk_python.__file__), "resources/outscale.yaml"))))
ovh = {
    "/storage/netapp": Spec(json.load(open(os.path.join(here, "specs/storagenetapp.json")))),
    "/dedicated/nasha": Spec(json.load(open(os.path.join(here, "specs/dedicatednasha.json")))),
}
# Cinder api-ref: fields a volume and a snapshot detail always carry.
CINDER_REQUIRED = {
    "volume": {"id", "status", "size", "availability_zone", "created_at", "updated_at", "name",
               "description", "volume_type", "snapshot_id", "source_volid", "metadata", "links",
               "user_id", "bootable", "encrypted", "replication_status", "multiattach", "attachments"},
    "snapshot": {"id", "status", "size", "created_at", "updated_at", "name", "description",
                 "volume_id", "metadata"},
}

counts, outside, failures = Counter(), set(), []
for n, line in enumerate(open(sys.argv[1]), 1):
    a = json.loads(line)
    method, path, status, doc = a["method"], a["path"], a["status"], a["body"]
    where = f"line {n}: {method} {path} -> {status}"
    try:
        if path.startswith("/api/v1/"):
            name = path.rsplit("/", 1)[-1] + "Response" if status < 300 else "ErrorResponse"
            found = errors(osc.named(name), doc)
            assert not found, f"{name}: {found}"
            counts["outscale"] += 1
        elif path.startswith("/1.0/"):
            rest = path[len("/1.0"):]
            spec = next((s for p, s in ovh.items() if rest.startswith(p)), None)
            if status >= 400:
                assert isinstance(doc, dict) and doc.get("message"), doc
            elif spec is None:
                outside.add(rest)
            else:
                validator, template = spec.operation(method, rest)
                if validator is None:
                    assert doc is None, f"{template}: no body in the description, got {doc}"
                else:
                    found = errors(validator, doc)
                    assert not found, f"{template}: {found}"
            counts["ovh"] += 1
        elif path.startswith("/oos/"):
            # OOS speaks S3: XML errors (<Error><Code>…), ListObjectsV2 results, objects, 204s.
            text = doc.get("_not_json", "") if isinstance(doc, dict) else ""
            if status >= 400:
                assert "<Error><Code>" in text and "<RequestId>" in text, doc
            elif method == "DELETE":
                assert status == 204 and doc is None, doc
            elif path.count("/") == 2:  # GET /oos/<bucket>: ListObjectsV2
                assert "<ListBucketResult" in text and "<IsTruncated>" in text, doc
            counts["oos"] += 1
        else:  # Keystone and Cinder
            if status >= 400:
                assert isinstance(doc, dict) and len(doc) == 1, doc
                fault = next(iter(doc.values()))
                assert fault.get("code") == status, doc
            elif isinstance(doc, dict):
                for key, fields in CINDER_REQUIRED.items():
                    items = doc.get(key + "s") if isinstance(doc.get(key + "s"), list) else ([doc[key]] if isinstance(doc.get(key), dict) else [])
                    for item in items:
                        missing = fields - set(item)
                        assert not missing, f"a {key} without {sorted(missing)}"
            counts["powervc"] += 1
    except AssertionError as e:
        failures.append(f"{where}: {e}")
for f in failures[:int(os.environ.get("SHOW", "20"))]:
    print("  ! " + f)
print(f"  = recorded answers checked: {dict(counts)}; outside the descriptions: {sorted(outside)}")
sys.exit(1 if failures else 0)
