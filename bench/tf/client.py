#!/usr/bin/python3
"""bench/tf/client.py URL IMAGE N: times POSTs of IMAGE to the tf example.

One warm-up request first (it creates the Cosmos DB database and collection,
which only the first write does), then N cold requests, each with a few
different bytes appended to the image (a JPEG decoder stops at its end
marker, so the picture is the same, its SHA-256 is not: a cache miss), then
N cached requests (the last cold body again). Wall time per request at the
client, on a fresh connection each. Prints

  cold_ms MEDIAN MIN
  cached_ms MEDIAN MIN
  cold_step NAME MEDIAN        (each Server-Timing entry of the cold answers)
  cached_step NAME MEDIAN
"""
import http.client
import os
import statistics
import sys
import time
from urllib.parse import urlsplit


def post(url, body):
    u = urlsplit(url)
    t0 = time.perf_counter()
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    c.request("POST", u.path, body, {"Content-Type": "application/octet-stream"})
    r = c.getresponse()
    data = r.read()
    ms = (time.perf_counter() - t0) * 1e3
    c.close()
    if r.status != 200:
        sys.exit(f"bench/tf: {url}: {r.status}: {data[:200]!r}")
    steps = {}
    for part in (r.getheader("Server-Timing") or "").split(","):
        name, _, dur = part.strip().partition(";dur=")
        if dur:
            steps[name] = float(dur)
    return ms, r.getheader("X-Cache"), steps


def main():
    url, image, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    data = open(image, "rb").read()
    tag = os.urandom(8).hex().encode()
    post(url, data + b"warm-up" + tag)
    results = {}
    body = data
    for kind in ("cold", "cached"):
        rows = []
        for i in range(n):
            if kind == "cold":
                body = data + b"cold-%d-" % i + tag
            ms, cache, steps = post(url, body)
            want = "miss" if kind == "cold" else "hit"
            if cache != want:
                sys.exit(f"bench/tf: {kind} request {i}: X-Cache {cache}, expected {want}")
            rows.append((ms, steps))
        results[kind] = rows
    for kind, rows in results.items():
        times = [ms for ms, _ in rows]
        print(f"{kind}_ms {statistics.median(times):.2f} {min(times):.2f}")
    for kind, rows in results.items():
        for name in rows[0][1]:
            print(f"{kind}_step {name} {statistics.median(s[name] for _, s in rows):.2f}")


if __name__ == "__main__":
    main()
