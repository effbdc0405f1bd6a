"""§9 with a second client implementation: node's `ws` package (tests/integration/node, installed with npm ci
from the committed lock file when missing). Connect, connection_established, new_message, the text ping, a clean
close echoed with 1000, refusals seen as HTTP statuses, and the 4003 of a logout."""
import json
import time

import pytest

from chat_helpers import (  # noqa: F401 (fixtures: api_fixture is `api`, users_fixture is `users`)
    _user_pool, api_fixture, users_fixture,
    H, create_channel, join, send,
)
from conftest import jwt_payload
from ws_helpers import NodeClient, ensure_node_clients, rt  # noqa: F401 (fixture rt)


@pytest.fixture(scope="module", autouse=True)
def node_ws():
    ensure_node_clients()


@pytest.fixture
def node():
    clients = []

    def start(url, origin=None):
        c = NodeClient(url, origin)
        clients.append(c)
        return c

    yield start
    for c in clients:
        if c.proc.poll() is None:
            c.proc.kill()
        c.proc.wait(5)


def test_node_client_connects_receives_and_closes_cleanly(api, users, rt, node):
    a, b = users(2)
    ch = create_channel(api, a)
    join(api, b, ch["id"])
    for url, origin in [(rt.url(a.access), "http://localhost:3000"), (rt.url(a.access, port=rt.ports[1]), None)]:
        c = node(url, origin)
        c.wait(lambda e: e["event"] == "open", 10, "open")
        _, est = c.message("connection_established")
        assert c.messages()[0] == est, "connection_established must be the first frame"
        assert (est["user_id"], est["username"], est["session_id"]) == (
            a.user["id"], a.user["username"], jwt_payload(a.access)["sid"]), est
        m = send(api, b, ch["id"], "hello node")
        _, e = c.message("new_message", data_id=m["id"])
        assert e["data"] == m and (e["channel_id"], e["conversation_id"]) == (ch["id"], ch["id"]), e
        assert isinstance(e["event_id"], str) and e["timestamp"], e
        c.command(cmd="send", data="ping")
        c.wait(lambda e: e["event"] == "message" and e["data"] == "pong", 5, "the text pong")
        c.command(cmd="send", data=json.dumps({"type": "ping"}))
        c.message("pong")
        c.command(cmd="close", code=1000, reason="bye")
        _, closed = c.wait(lambda e: e["event"] == "close", 5, "close")
        assert closed["code"] == 1000, closed  # the server answered the close with 1000
        c.finish()
        assert c.proc.returncode == 0


def test_node_client_sees_refusals_as_http_statuses(rt, users, node):
    (a,) = users(1)
    for url, origin, status, detail in [
        (rt.url("garbage"), None, 401, "Could not validate credentials"),
        (rt.url(None), None, 401, "Not authenticated"),
        (rt.url(a.access), "http://evil.example", 403, "Origin not allowed"),
    ]:
        c = node(url, origin)
        _, e = c.wait(lambda e: e["event"] in ("unexpected-response", "open"), 10, "the upgrade's answer")
        assert e["event"] == "unexpected-response", e
        assert e["status"] == status and json.loads(e["body"]) == {"detail": detail}, e


def test_node_client_gets_force_disconnect_and_4003_on_logout(api, users, rt, node):
    (a,) = users(1)
    c = node(rt.url(a.access, port=rt.ports[0]))
    c.message("connection_established")
    r = api.post("/api/v1/auth/logout", headers=H(a))
    t_answer = time.monotonic()
    assert r.status_code == 204, r.text
    at, e = c.message("force_disconnect", 3)
    assert e["reason"] == "logout", e
    closed_at, closed = c.wait(lambda e: e["event"] == "close", 3, "close")
    assert closed["code"] == 4003, closed
    assert at - t_answer < 1.0 and closed_at - t_answer < 1.0, (at - t_answer, closed_at - t_answer)
    assert c.messages()[-1] == e, "nothing after force_disconnect"
    c.finish()
