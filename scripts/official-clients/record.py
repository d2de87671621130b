"""Every HTTP answer an official client receives, recorded (requests.Session.send is wrapped: the
three clients all speak through requests), and checked by `check` when the scenario ends."""
import json
import time

import requests

ANSWERS = []
_send = requests.Session.send


def _recording_send(self, request, **kwargs):
    response = _send(self, request, **kwargs)
    ANSWERS.append((request.method, request.url, request.body, response.status_code, response.content))
    return response


requests.Session.send = _recording_send


def step(name):
    print(f"  - {name}", flush=True)


def until(read, done, what):
    """Poll `read` every 50 ms until `done` holds of what it answers (10 s at most)."""
    for _ in range(200):
        got = read()
        if done(got):
            return got
        time.sleep(0.05)
    raise AssertionError(f"{what}: still {got}")


def expect_error(call, status, what):
    """Run `call`, which must fail with an HTTP answer of `status`."""
    try:
        call()
    except Exception as e:  # each client raises its own type; the recorded answer is what counts
        got = ANSWERS[-1][3] if ANSWERS else None
        assert got == status, f"{what}: expected HTTP {status}, got {got} ({type(e).__name__}: {e})"
        step(f"{what}: HTTP {status} ({type(e).__name__})")
        return e
    raise AssertionError(f"{what}: expected HTTP {status}, the call succeeded")


def check(validate):
    """`validate(method, url, body, status, json)` for every recorded answer; a summary line."""
    n = 0
    for method, url, body, status, content in ANSWERS:
        try:
            doc = json.loads(content) if content else None
        except ValueError as e:
            raise AssertionError(f"{method} {url} -> {status}: not JSON: {content[:200]!r}") from e
        validate(method, url, body, status, doc)
        n += 1
    print(f"  = {n} answers checked", flush=True)
