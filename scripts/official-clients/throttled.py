"""Each client against an emulator started with --throttle 2: the throttling answer each API
gives (OUTSCALE 429 with code 24, OVH 429, Cinder 413 overLimit), each with Retry-After, in the
API's error shape (OUTSCALE's validated against its description)."""
import os

import yaml
import ovh
import ovh.client
import openstack
import osc_sdk_python
from osc_sdk_python import Gateway

import record
from openapi import Spec, errors
from record import step

osc_spec = Spec(yaml.safe_load(open(os.path.join(os.path.dirname(osc_sdk_python.__file__), "resources/outscale.yaml"))))


def burst(name, call, status):
    for _ in range(10):
        try:
            call()
        except Exception:
            pass
        if record.ANSWERS and record.ANSWERS[-1][3] == status:
            step(f"{name}: HTTP {status} within a burst of 10")
            return
    raise AssertionError(f"{name}: no {status} in a burst of 10 calls")


gw = Gateway(max_retries=0)
burst("OUTSCALE ReadVolumes", gw.ReadVolumes, 429)
ovh.client.ENDPOINTS["emulator"] = os.environ["OVH_ENDPOINT"]
c = ovh.Client(endpoint="emulator", application_key=os.environ["OVH_APPLICATION_KEY"],
               application_secret=os.environ["OVH_APPLICATION_SECRET"],
               consumer_key=os.environ["OVH_CONSUMER_KEY"])
burst("OVH GET /storage/netapp", lambda: c.get("/storage/netapp"), 429)
conn = openstack.connect()
burst("Cinder GET /volumes/detail", lambda: list(conn.block_storage.volumes()), 413)


def validate(method, url, body, status, doc):
    if status not in (413, 429):
        return
    if "/api/v1/" in url:
        found = errors(osc_spec.named("ErrorResponse"), doc)
        assert not found and doc["Errors"][0]["Code"] == "24", (found, doc)
    elif status == 413:
        assert doc["overLimit"]["code"] == 413 and doc["overLimit"]["message"], doc
    else:
        assert doc["message"], doc


record.check(validate)
