"""Webhook delivery cost without the database: URL check (resolve + address vetting), signing,
and one pinned POST to a real receiver on 127.0.0.1, repeated. Prints per-step times.

Run: .venv/bin/python bench/webhooks.py
"""

from __future__ import annotations

import os
import statistics
import time

import _common  # noqa: F401  (puts the repository on sys.path)

N = 200


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heygem_site.settings")
    os.environ["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = "1"
    import django

    django.setup()
    from jobs.webhooks.delivery import _body, _post, webhook_signature, webhook_target
    from tests.support.webhook_receiver import start_receiver

    receiver = start_receiver()
    body = _body({"id": "evt_x", "type": "job.succeeded", "data": {"job": {"id": "x" * 36}}})
    check, sign, post = [], [], []
    for _ in range(N):
        t0 = time.perf_counter()
        target = webhook_target(receiver.url + "/hook")
        t1 = time.perf_counter()
        signature = webhook_signature(
            secret="whsec_" + "s" * 43, timestamp=int(time.time()), body=body
        )
        t2 = time.perf_counter()
        code, error = _post(target, body, {"X-HeyGem-Signature": signature})
        t3 = time.perf_counter()
        assert code == 200 and not error
        check.append(t1 - t0)
        sign.append(t2 - t1)
        post.append(t3 - t2)
    receiver.stop()
    print(f"{N} deliveries of a {len(body)}-byte body to 127.0.0.1 (median / p95, ms):")
    for name, values in (("URL check", check), ("sign", sign), ("POST", post)):
        values.sort()
        print(
            f"  {name:10s} {statistics.median(values) * 1000:7.3f} / {values[int(N * 0.95)] * 1000:7.3f}"
        )


if __name__ == "__main__":
    main()
