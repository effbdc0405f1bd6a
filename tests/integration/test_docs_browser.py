"""§8 /docs and /redoc rendered by a real browser: headless Chromium (Debian's `chromium`) driven by playwright-core
(tests/integration/node/docs_browser.js), with no network beyond loopback.

Both pages must render every operation of /openapi.json from this server's files alone (the build's www/, no
CDN), with no console error (a CSP violation is one), no failed request and no request to another host. Swagger
UI's Authorize must work with the OAuth2 password flow of the document: a registered user's username and
password in the dialog, then "Try it out" on GET /api/v1/auth/me answers 200 with that user.

The screenshots are kept in <build>/test-artifacts/docs-browser/ (the path is printed).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from chat_helpers import _user_pool  # noqa: F401 (fixture)
from conftest import PASSWORD, REPO, jwt_payload
from ws_helpers import NODE_DIR, ensure_node_clients

CHROMIUM = Path("/usr/bin/chromium")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ME = "/api/v1/auth/me"
# Not a loopback name: the browser's resolver maps it to 127.0.0.1 (docs_browser.js), so the pages are seen as
# on any server, where Swagger UI behaves otherwise than on localhost.
HOST = "docs.chat.test"


@pytest.fixture(scope="module")
def browser_run(stack, api, _user_pool):
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing: deploy/deps.sh installs Debian's chromium"
    ensure_node_clients()
    spec = api.get("/openapi.json").json()
    me = spec["paths"][ME]["get"]
    (user,) = _user_pool.take(1)
    out = Path(stack.env.get("CHAT_BUILD_DIR") or REPO / "build") / "test-artifacts" / "docs-browser"
    shutil.rmtree(out, ignore_errors=True)
    opts = {"chromium": str(CHROMIUM), "host": HOST, "port": urlsplit(stack.base_url).port, "out": str(out),
            "username": user.user["username"], "password": PASSWORD,
            "me": {"tag": me["tags"][0], "operationId": me["operationId"], "summary": me["summary"]}}
    r = subprocess.run(["node", str(NODE_DIR / "docs_browser.js"), json.dumps(opts)], capture_output=True,
                       text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"docs_browser.js failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return spec, user, out, json.loads(r.stdout.splitlines()[-1])


def operations(spec: dict) -> list[tuple[str, str, dict]]:
    return [(m, p, op) for p, item in spec["paths"].items() for m, op in item.items() if m in METHODS]


def assert_clean(report: dict, page: str):
    assert "error" not in report, f"{page}: the browser script broke off:\n{report['error']}"
    for what in ("console_errors", "page_errors", "failed_requests", "http_errors"):
        assert report[what] == [], f"{page} {what}: {json.dumps(report[what], indent=1)}"


def test_no_request_leaves_loopback(browser_run):
    _, _, _, result = browser_run
    assert result["offsite"] == [], f"requests to other hosts (aborted): {result['offsite']}"


def test_swagger_ui_renders_every_operation(browser_run, capsys):
    spec, _, out, result = browser_run
    docs = result["docs"]
    assert_clean(docs, "/docs")
    ops = operations(spec)
    assert docs["operations"] == len(ops), (docs["operations"], len(ops))
    # Swagger UI breaks long paths with zero-width spaces
    assert sorted(p.replace("\u200b", "") for p in docs["paths"]) == sorted(p for _, p, _ in ops)
    assert sorted(docs["summaries"]) == sorted(op["summary"] for _, _, op in ops)
    assert docs["me_visible"], "GET /api/v1/auth/me is not visible on /docs"
    assert Path(docs["screenshot"]).stat().st_size > 10_000, docs["screenshot"]
    with capsys.disabled():
        print(f"\n/docs screenshots: {out}/docs.png, docs-authorized.png, docs-try-it-out.png")


def test_redoc_renders_every_operation(browser_run, capsys):
    spec, _, out, result = browser_run
    redoc = result["redoc"]
    assert_clean(redoc, "/redoc")
    ops = operations(spec)
    want = sorted(f"tag/{op['tags'][0]}/operation/{op['operationId']}" for _, _, op in ops)
    assert sorted(redoc["section_ids"]) == want, set(redoc["section_ids"]) ^ set(want)
    assert redoc["menu_items"] == len(ops), (redoc["menu_items"], len(ops))
    assert redoc["me_visible"], "GET /api/v1/auth/me is not visible on /redoc"
    assert redoc["search_found_me"] == 1, "ReDoc's search (its web worker) found nothing"
    assert Path(redoc["screenshot"]).stat().st_size > 10_000, redoc["screenshot"]
    with capsys.disabled():
        print(f"\n/redoc screenshot: {out}/redoc.png")


def test_swagger_authorize_with_password_then_try_it_out(browser_run):
    _, user, _, result = browser_run
    assert "error" not in result["docs"], result["docs"]["error"]
    auth = result["docs"]["authorize"]
    assert auth["dialog_errors"] in ([], [""]), auth["dialog_errors"]
    # the dialog posted the OAuth2 password form to the tokenUrl and got a token
    (token_req,) = auth["token_requests"]
    assert token_req["method"] == "POST", token_req
    assert token_req["content_type"].startswith("application/x-www-form-urlencoded"), token_req
    form = parse_qs(token_req["body"])
    assert (form["grant_type"], form["username"], form["password"]) == (["password"], [user.user["username"]],
                                                                         [PASSWORD]), form
    assert auth["token_status"] == 200, auth
    # "Try it out" sent that token, and the server answered with the user
    (me_req,) = auth["me_requests"]
    scheme, _, token = me_req["authorization"].partition(" ")
    assert scheme == "Bearer" and jwt_payload(token)["sub"] == user.user["id"], me_req
    assert auth["me_status"] == "200", auth
    body = json.loads(auth["me_body"])
    assert (body["id"], body["username"]) == (user.user["id"], user.user["username"]), body
