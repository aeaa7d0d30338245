"""The guest SDK signs requests exactly as the official Azure SDKs do: for
the requests @azure/storage-blob really sends (recorded), the SharedKey
Authorization our code computes for the same method, path, query and
headers is the SDK's, byte for byte; for @azure/cosmos, the master-key
token for the same verb, resource and date is the SDK's; for
@azure/eventgrid, the aeg-sas-token for the same endpoint, key and expiry."""
import json
import subprocess

from conftest import COSMOS_KEY, DEV_ACCOUNT, DEV_KEY, ROOT, need_node_package, node_env

ORACLE = ROOT / "tests" / "azure" / "oracle.mjs"
SIGNED = ("content-", "date", "if-", "range", "x-ms-")


def ours_blob(azsign, method, path, query, headers, account=DEV_ACCOUNT, key=DEV_KEY):
    lines = "".join(f"{k}: {v}\n" for k, v in headers.items()
                    if k.lower() != "authorization" and k.lower().startswith(SIGNED))
    r = subprocess.run([str(azsign), "blob", account, key, method, path, query],
                       input=lines, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    sts, auth = r.stdout.split("\n", 1)
    return json.loads(sts), auth.strip()


def test_blob_shared_key_matches_storage_blob_sdk(azsign):
    need_node_package("@azure/storage-blob")
    r = subprocess.run(["node", str(ORACLE), "blob", DEV_ACCOUNT, DEV_KEY], capture_output=True,
                       text=True, env=node_env(), timeout=120)
    assert r.returncode == 0, r.stderr
    seen = [json.loads(line) for line in r.stdout.splitlines()]
    # container create, then per name: put with data, put empty, get
    assert len(seen) == 1 + 4 * 3, seen
    assert any("%20" in s["path"] for s in seen)  # names that need encoding were sent
    for s in seen:
        sts, auth = ours_blob(azsign, s["method"], s["path"], s["query"], s["headers"])
        assert auth == s["headers"]["authorization"], (s, sts)


def test_blob_signature_depends_on_every_signed_part(azsign):
    h = {"x-ms-date": "Mon, 07 Dec 2026 00:00:00 GMT", "x-ms-version": "2021-12-02",
         "content-length": "16", "content-type": "text/plain"}
    base = ours_blob(azsign, "PUT", "/devstoreaccount1/c/b", "", h)[1]
    assert ours_blob(azsign, "GET", "/devstoreaccount1/c/b", "", h)[1] != base
    assert ours_blob(azsign, "PUT", "/devstoreaccount1/c/x", "", h)[1] != base
    assert ours_blob(azsign, "PUT", "/devstoreaccount1/c/b", "comp=list", h)[1] != base
    assert ours_blob(azsign, "PUT", "/devstoreaccount1/c/b", "", dict(h, **{"x-ms-meta-a": "1"}))[1] != base
    assert ours_blob(azsign, "PUT", "/devstoreaccount1/c/b", "", dict(h, **{"content-length": "0"}))[1] != base
    # headers outside the signed set do not matter
    assert ours_blob(azsign, "PUT", "/devstoreaccount1/c/b", "", dict(h, **{"accept": "x"}))[1] == base


def test_blob_string_to_sign_layout(azsign):
    """The canonical form: verb, 11 standard header lines (zero length as
    empty), sorted lower-case x-ms-* headers with collapsed whitespace, then
    /account + path and sorted, decoded query parameters."""
    h = {"Content-Length": "0", "X-MS-Date": "D", "x-ms-version": "V",
         "x-ms-meta-b": "  two   words ", "Content-Type": "t/p"}
    sts, _ = ours_blob(azsign, "put", "/acct/c", "restype=container&Comp=a%20b&comp=c", h,
                       account="acct")
    assert sts == ("PUT\n\n\n\n\nt/p\n\n\n\n\n\n\n"
                   "x-ms-date:D\nx-ms-meta-b:two words\nx-ms-version:V\n"
                   "/acct/acct/c\ncomp:a b,c\nrestype:container")


def test_cosmos_auth_matches_cosmos_sdk(azsign):
    need_node_package("@azure/cosmos")
    r = subprocess.run(["node", str(ORACLE), "cosmos", COSMOS_KEY], capture_output=True,
                       text=True, env=node_env(), timeout=120)
    assert r.returncode == 0, r.stderr
    cases = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(cases) >= 6
    for c in cases:
        out = subprocess.run([str(azsign), "cosmos", COSMOS_KEY, c["verb"], c["type"], c["link"],
                              c["date"]], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == c["auth"], c


def test_eventgrid_sas_token_matches_eventgrid_sdk(azsign):
    need_node_package("@azure/eventgrid")
    url = "https://mytopic.westus2-1.eventgrid.azure.net/api/events"
    key = "c2VjcmV0LWtleS1mb3ItdGVzdHMtMDEyMzQ1Njc4OQ=="
    # midnight, noon, an afternoon and a morning hour, single and double digits
    expiries = [1796601600, 1796644800, 1796670245, 1798765383, 4102444799]
    r = subprocess.run(["node", str(ORACLE), "egsas", url, key, *map(str, expiries)],
                       capture_output=True, text=True, env=node_env(), timeout=120)
    assert r.returncode == 0, r.stderr
    cases = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(cases) == len(expiries)
    for c in cases:
        out = subprocess.run([str(azsign), "egsas", url, str(c["expires"]), key],
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == c["token"], c
