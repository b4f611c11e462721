#!/usr/bin/env python3
"""The Python baseline of `cargo xtask bench`: bulk updates from a JSONL file with one pooled requests.Session.

usage: ETORO_API_KEY=.. ETORO_USER_KEY=.. bulk.py URL_TEMPLATE API_VERSION FILE.jsonl CONCURRENCY LIMIT

URL_TEMPLATE is the endpoint's URL with {portfolio} and {token} where the ids go.

Sends the first LIMIT lines from CONCURRENCY threads sharing one Session whose pool holds CONCURRENCY
connections (CONCURRENCY 1: a plain loop). Prints one JSON object: {"sent", "failed", "loop_seconds"}, where
loop_seconds excludes interpreter start-up, imports and reading the file. Exits 1 if any answer is not 204.
"""

import json
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests
from requests.adapters import HTTPAdapter


def main() -> int:
    template, api_version, path = sys.argv[1], sys.argv[2], sys.argv[3]
    concurrency, limit = int(sys.argv[4]), int(sys.argv[5])
    jobs = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if len(jobs) >= limit:
                break
            body = json.loads(line)
            jobs.append((body.pop("portfolio"), body.pop("token"), body))

    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=concurrency))
    session.headers.update(
        {
            "x-api-key": os.environ["ETORO_API_KEY"],
            "x-user-key": os.environ["ETORO_USER_KEY"],
            "accept": "application/json",
            "api-version": api_version,
        }
    )

    def send(job):
        portfolio, token, body = job
        response = session.patch(
            template.replace("{portfolio}", portfolio).replace("{token}", token),
            json=body,
            headers={"x-request-id": str(uuid.uuid4())},
            timeout=30,
        )
        return response.status_code

    started = time.perf_counter()
    if concurrency == 1:
        codes = [send(job) for job in jobs]
    else:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            codes = list(pool.map(send, jobs))
    loop_seconds = time.perf_counter() - started
    failed = sum(1 for code in codes if code != 204)
    print(json.dumps({"sent": len(codes), "failed": failed, "loop_seconds": loop_seconds}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
