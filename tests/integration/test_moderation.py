"""§7 moderation, through nginx and both realtime daemons: global roles and their rules, bans and suspensions that
take effect everywhere at once, the audit log (append-only in PostgreSQL itself), and chat-admin, the operator's
command. The test stack shortens an "hour" of a ban to one second (MODERATION_HOUR_SECONDS=1)."""
from __future__ import annotations

import json
import subprocess
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from chat_helpers import (  # noqa: F401 (fixtures: api_fixture is `api`, users_fixture is `users`)
    _user_pool, api_fixture, users_fixture,
    H, create_channel, join, send,
)
from conftest import PASSWORD, REPO, Registered, login_json
from openapi_schema import Checker
from ws_helpers import assert_stamped, raw_upgrade, rt, ws  # noqa: F401 (fixtures rt, ws)

A = "/api/v1/admin"


def admin_routes(uid: str) -> list[tuple[str, str, dict]]:
    return [
        ("POST", f"{A}/users/{uid}/ban", {"reason": "spam"}),
        ("POST", f"{A}/users/{uid}/unban", {}),
        ("POST", f"{A}/users/{uid}/suspend", {"duration_hours": 1}),
        ("PUT", f"{A}/users/{uid}/role", {"role": "moderator"}),
        ("GET", f"{A}/audit-log", None),
    ]


def make_moderator(db, user) -> None:
    db("UPDATE users SET role = 'moderator' WHERE id = :'p1'", user.user["id"])


def audit_rows(db, **where) -> list[dict]:
    cond = " AND ".join(f"{k} = :'p{i}'" for i, k in enumerate(where, 1)) or "true"
    rows = db(f"SELECT row_to_json(a)::text FROM audit_log a WHERE {cond} ORDER BY id", *where.values())
    return [json.loads(r[0]) for r in rows]


def chat_admin(stack, *args) -> subprocess.CompletedProcess:
    """The operator's command with the stack's chat.env (DATABASE_URL and REDIS_URL are all it reads)."""
    env = {"CHAT_ENV_FILE": str(stack.run_dir / "chat.env"), "PATH": "/usr/bin:/bin"}
    binary = Path(stack.env.get("CHAT_BUILD_DIR") or REPO / "build") / "chat-admin"
    return subprocess.run([str(binary), *args], env=env, capture_output=True, text=True, timeout=60, cwd=stack.run_dir)


# ------------------------------------------------------------------------------------------------
# who may


def test_every_admin_route_is_403_for_members_and_moderators(api, users, db):
    member, moderator, target = users(3)
    make_moderator(db, moderator)
    for who in (member, moderator):
        for method, path, body in admin_routes(target.user["id"]):
            r = api.request(method, path, headers=H(who), **({"json": body} if body is not None else {}))
            assert r.status_code == 403, (who.user["username"], method, path, r.text)
            assert r.json() == {"detail": "Not enough permissions"}
    # nothing changed
    assert db("SELECT status, role FROM users WHERE id = :'p1'", target.user["id"]) == [["active", "member"]]


def test_admin_routes_need_a_token_and_a_real_target(api, admin, users):
    (u,) = users(1)
    for method, path, body in admin_routes(u.user["id"]):
        r = api.request(method, path, **({"json": body} if body is not None else {}))
        assert r.status_code == 401, (method, path, r.text)
    for method, path, body in admin_routes(str(uuid.uuid4()))[:4] + [("POST", f"{A}/users/not-a-uuid/ban", {})]:
        r = api.request(method, path, headers=H(admin), json=body)
        assert r.status_code == 404 and r.json() == {"detail": "User not found"}, (method, path, r.text)


def test_role_rules(api, admin, users, db, stack):
    a, b, c = users(3)
    # an admin makes a moderator and unmakes it; never an admin, never itself, never another admin
    r = api.put(f"{A}/users/{a.user['id']}/role", json={"role": "moderator"}, headers=H(admin))
    assert r.status_code == 200 and r.json()["user"]["role"] == "moderator", r.text
    r = api.put(f"{A}/users/{a.user['id']}/role", json={"role": "member"}, headers=H(admin))
    assert r.status_code == 200 and r.json()["user"]["role"] == "member", r.text
    r = api.put(f"{A}/users/{b.user['id']}/role", json={"role": "admin"}, headers=H(admin))
    assert r.status_code == 403 and r.json()["detail"] == "Only the operator's chat-admin can make an admin", r.text
    r = api.put(f"{A}/users/{admin.user['id']}/role", json={"role": "member"}, headers=H(admin))
    assert r.status_code == 403 and r.json()["detail"] == "You cannot change your own role", r.text
    r = api.post(f"{A}/users/{admin.user['id']}/ban", json={}, headers=H(admin))
    assert r.status_code == 403 and r.json()["detail"] == "You cannot moderate yourself", r.text
    r = api.put(f"{A}/users/{b.user['id']}/role", json={"role": "owner"}, headers=H(admin))
    assert r.status_code == 422, r.text
    # a second admin (only chat-admin makes one) is out of the first one's reach
    out = chat_admin(stack, "set-role", c.user["username"], "admin")
    assert out.returncode == 0, out.stdout + out.stderr
    for method, path, body in admin_routes(c.user["id"])[:4]:
        r = api.request(method, path, json=body, headers=H(admin))
        assert r.status_code == 403 and r.json()["detail"] == "An admin cannot act on another admin", (path, r.text)
    # a moderator cannot ban (every /admin route is for admins)
    make_moderator(db, a)
    r = api.post(f"{A}/users/{b.user['id']}/ban", json={}, headers=H(a))
    assert r.status_code == 403, r.text
    roles = [(e["action"], e["actor"], e["details"]) for e in audit_rows(db, target_id=a.user["id"])]
    assert roles[:2] == [("user.role", admin.user["username"], {"from": "member", "to": "moderator"}),
                         ("user.role", admin.user["username"], {"from": "moderator", "to": "member"})], roles
    assert [(e["action"], e["actor"], e["actor_id"]) for e in audit_rows(db, target_id=c.user["id"])] == \
        [("user.role", "system", None)]


# ------------------------------------------------------------------------------------------------
# moderation through the ordinary routes


def test_a_moderator_deletes_another_users_message_and_the_members_see_it(api, users, db, ws, rt):
    owner, member, moderator = users(3)
    make_moderator(db, moderator)
    ch = create_channel(api, owner)
    join(api, member, ch["id"])
    m = send(api, owner, ch["id"], "a message that breaks the rules")
    watchers = [ws(owner, port=rt.ports[0]), ws(member, port=rt.ports[1])]
    r = api.delete(f"/api/v1/messages/{m['id']}", headers=H(moderator))  # not even a member of the channel
    assert r.status_code == 200, r.text
    for s in watchers:
        e = s.wait_event("message_deleted", 5, message_id=m["id"])
        assert e["deleted_by"] == moderator.user["username"] and e["channel_id"] == ch["id"], e
    rows = audit_rows(db, target_id=m["id"])
    assert [(e["action"], e["actor_id"], e["target_kind"]) for e in rows] == \
        [("message.delete", moderator.user["id"], "message")], rows
    assert rows[0]["details"] == {"conversation_id": ch["id"], "sender_id": owner.user["id"]}
    # the author deleting its own message is no moderation: not audited
    m2 = send(api, owner, ch["id"], "mine")
    assert api.delete(f"/api/v1/messages/{m2['id']}", headers=H(owner)).status_code == 200
    assert audit_rows(db, target_id=m2["id"]) == []


def test_a_moderator_removes_a_member_and_it_is_audited(api, users, db):
    owner, member, moderator = users(3)
    make_moderator(db, moderator)
    ch = create_channel(api, owner)
    join(api, member, ch["id"])
    r = api.delete(f"/api/v1/channels/{ch['id']}/members/{member.user['id']}", headers=H(moderator))
    assert r.status_code == 204, r.text
    rows = audit_rows(db, target_id=member.user["id"], action="member.remove")
    assert len(rows) == 1 and rows[0]["actor_id"] == moderator.user["id"], rows
    assert rows[0]["details"]["conversation_id"] == ch["id"]


# ------------------------------------------------------------------------------------------------
# bans and suspensions


def refresh(api, token):
    return api.post("/api/v1/auth/refresh", json={"refresh_token": token})


def test_a_ban_takes_effect_everywhere_at_once_and_an_unban_restores_login(api, admin, users, ws, rt, stack, db):
    (victim,) = users(1)
    other = login_json(api, victim.user["username"]).json()  # a second session
    ch = create_channel(api, victim)
    socks = [ws(victim, port=rt.ports[0]), ws(victim, port=rt.ports[1]), ws(victim)]
    r = api.post(f"{A}/users/{victim.user['id']}/ban", json={"reason": "spam"}, headers=H(admin))
    t_ban = time.monotonic()
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"]["status"] == "banned" and body["user"]["status_until"] is None, body
    assert body["user"]["status_reason"] == "spam", body
    # every socket of the user, on both daemons: force_disconnect, then 4003, within a second
    for s in socks:
        f = s.wait(lambda f: f.type == "force_disconnect", 3, "force_disconnect")
        s.wait_closed(3)
        assert f.obj["reason"] == "banned", f.obj
        assert_stamped(f.obj)
        assert s.close_code == 4003, s.close_code
        assert s.closed_at - t_ban < 1.0, f"closed {s.closed_at - t_ban:.2f} s after the ban"
    print(f"\nban to socket close: {max(s.closed_at for s in socks) - t_ban:.3f} s (slowest of {len(socks)})")
    # the next request of every session: 403 Inactive user; login, refresh and upgrades refused
    for token in (victim.access, other["access_token"]):
        r = api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 403 and r.json() == {"detail": "Inactive user"}, r.text
    assert api.post("/api/v1/messages/", json={"channel_id": ch["id"], "content": "x"}, headers=H(victim)).status_code == 403
    r = login_json(api, victim.user["username"])
    assert r.status_code == 403 and r.json() == {"detail": "Inactive user"}, r.text
    assert refresh(api, victim.refresh).status_code in (401, 403)
    up = raw_upgrade(rt.ports[0], f"/ws?token={victim.access}")
    assert up.status == 403, (up.status, up.body)
    # unban: login works again; the sessions the ban revoked stay revoked
    r = api.post(f"{A}/users/{victim.user['id']}/unban", json={"reason": "appeal"}, headers=H(admin))
    assert r.status_code == 200 and r.json()["user"]["status"] == "active", r.text
    r = login_json(api, victim.user["username"])
    assert r.status_code == 200, r.text
    r = api.get("/api/v1/auth/me", headers=H(victim))
    assert r.status_code == 401, r.text
    assert refresh(api, victim.refresh).status_code == 401
    assert api.post(f"{A}/users/{victim.user['id']}/unban", json={}, headers=H(admin)).status_code == 400
    actions = [(e["action"], e["actor_id"], e["reason"]) for e in audit_rows(db, target_id=victim.user["id"])]
    assert actions == [("user.ban", admin.user["id"], "spam"), ("user.unban", admin.user["id"], "appeal")], actions


def test_a_suspension_lifts_by_itself(api, admin, users, stack):
    (u,) = users(1)
    hours = 3  # seconds in the test stack
    r = api.post(f"{A}/users/{u.user['id']}/suspend", json={"duration_hours": hours, "reason": "cool down"},
                 headers=H(admin))
    assert r.status_code == 200, r.text
    assert r.json()["user"]["status"] == "suspended" and r.json()["user"]["status_until"], r.text
    t0 = time.monotonic()
    r = login_json(api, u.user["username"])
    assert r.status_code == 403 and r.json() == {"detail": "Inactive user"}, r.text
    while time.monotonic() - t0 < hours + 0.5:
        time.sleep(0.25)
    # no job ran, no request of an admin: the suspension is over by itself
    r = login_json(api, u.user["username"])
    assert r.status_code == 200, r.text
    assert r.json()["user"]["status"] == "active", r.json()["user"]
    assert api.get(f"/api/v1/users/{u.user['id']}", headers=H(admin)).json()["status"] == "active"


def test_a_suspension_lasts_24_hours_by_default_and_a_ban_can_be_timed(api, admin, users, db):
    a, b = users(2)
    r = api.post(f"{A}/users/{a.user['id']}/suspend", headers=H(admin))
    assert r.status_code == 200, r.text
    secs = float(db("SELECT extract(epoch FROM status_until - now()) FROM users WHERE id = :'p1'",
                    a.user["id"])[0][0])
    assert 20 < secs <= 24, secs  # 24 "hours" of one second
    r = api.post(f"{A}/users/{b.user['id']}/ban", json={"duration_hours": 100}, headers=H(admin))
    assert r.status_code == 200 and r.json()["user"]["status_until"], r.text
    for bad in ({"duration_hours": 0}, {"duration_hours": -1}, {"duration_hours": "soon"}, {"reason": 42}):
        assert api.post(f"{A}/users/{b.user['id']}/ban", json=bad, headers=H(admin)).status_code == 422, bad
    api.post(f"{A}/users/{a.user['id']}/unban", headers=H(admin))
    api.post(f"{A}/users/{b.user['id']}/unban", headers=H(admin))


# ------------------------------------------------------------------------------------------------
# the audit log


def test_the_audit_log_is_newest_first_filtered_and_documented(api, admin, users, spec_checker):
    a, b, member = users(3)
    since = a_moment_ago()
    for u in (a, b):
        api.post(f"{A}/users/{u.user['id']}/suspend", json={"duration_hours": 50}, headers=H(admin))
        api.post(f"{A}/users/{u.user['id']}/unban", headers=H(admin))
    ck = spec_checker
    everything = ck.call("GET", A + "/audit-log", 200, token=admin.access, params={"since": since}).json()
    mine = [e for e in everything if e["target_id"] in (a.user["id"], b.user["id"])]
    assert [(e["action"], e["target_id"]) for e in mine] == [
        ("user.unban", b.user["id"]), ("user.suspend", b.user["id"]),
        ("user.unban", a.user["id"]), ("user.suspend", a.user["id"])], mine
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids, reverse=True), ids
    only_a = ck.call("GET", A + "/audit-log", 200, token=admin.access, params={"target_id": a.user["id"]}).json()
    assert {e["target_id"] for e in only_a} == {a.user["id"]} and len(only_a) == 2, only_a
    bans = ck.call("GET", A + "/audit-log", 200, token=admin.access,
                   params={"action": "user.suspend", "actor_id": admin.user["id"], "since": since}).json()
    assert {(e["action"], e["actor_id"]) for e in bans} == {("user.suspend", admin.user["id"])}, bans
    assert [e["target_id"] for e in bans if e["target_id"] in (a.user["id"], b.user["id"])] == \
        [b.user["id"], a.user["id"]], bans
    page = ck.call("GET", A + "/audit-log", 200, token=admin.access, params={"since": since, "limit": 1, "offset": 1})
    assert [e["id"] for e in page.json()] == ids[1:2]
    assert ck.call("GET", A + "/audit-log", 200, token=admin.access,
                   params={"until": since, "target_id": a.user["id"]}).json() == []
    ck.call("GET", A + "/audit-log", 422, token=admin.access, params={"since": "yesterday"})
    ck.call("GET", A + "/audit-log", 422, token=admin.access, params={"limit": 0})
    ck.call("GET", A + "/audit-log", 403, token=member.access)
    r = ck.call("POST", A + "/users/{id}/ban", 200, args={"id": a.user["id"]}, token=admin.access, json={})
    assert r.json()["user"]["email"] == a.user["email"]  # an answer to an admin
    ck.call("POST", A + "/users/{id}/unban", 200, args={"id": a.user["id"]}, token=admin.access)
    ck.call("PUT", A + "/users/{id}/role", 200, args={"id": a.user["id"]}, token=admin.access, json={"role": "member"})
    ck.call("POST", A + "/users/{id}/suspend", 404, args={"id": str(uuid.uuid4())}, token=admin.access)
    ck.done()


def a_moment_ago() -> str:
    """RFC 3339, a second ago (PostgreSQL on this host stamps the audit log with the same clock)."""
    return (datetime.now(timezone.utc) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def spec_checker(api):
    return Checker(api, api.get("/openapi.json").json())


def test_the_application_role_cannot_change_the_audit_log(stack, admin, users, api, db):
    (u,) = users(1)
    api.post(f"{A}/users/{u.user['id']}/suspend", headers=H(admin))
    api.post(f"{A}/users/{u.user['id']}/unban", headers=H(admin))
    role = db("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
    assert role == [["chat_app", "f"]], role  # what the programs connect as: no superuser
    owner = db("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'audit_log'")[0][0]
    assert owner != "chat_app", owner
    for sql in ("UPDATE audit_log SET reason = 'rewritten'", "DELETE FROM audit_log", "TRUNCATE audit_log",
                "ALTER TABLE audit_log DROP COLUMN reason", "DROP TABLE audit_log"):
        r = subprocess.run(["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql, stack.database_url],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0 and ("permission denied" in r.stderr or "must be owner" in r.stderr), (sql, r.stderr)
    # appending is what it may do, and reading
    assert db("SELECT count(*) > 0 FROM audit_log")[0][0] == "t"
    for sql in ("SELECT 1 FROM schema_migrations", "CREATE TABLE x (a int)"):
        r = subprocess.run(["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql, stack.database_url],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0, (sql, r.stdout)


# ------------------------------------------------------------------------------------------------
# chat-admin


def test_chat_admin_help_and_usage_errors(stack):
    r = chat_admin(stack, "--help")
    assert r.returncode == 0 and "create-user" in r.stdout and "audit-log" in r.stdout, r.stdout
    for args, code in ((("frobnicate",), 2), (("ban",), 2), (("ban", "nobody-" + uuid.uuid4().hex[:6]), 1),
                       (("set-role", "x", "king"), 2), (("ban", "x", "--hours"), 2)):
        r = chat_admin(stack, *args)
        assert r.returncode == code, (args, r.returncode, r.stdout, r.stderr)
        assert r.stderr.startswith("chat-admin:"), r.stderr


def test_chat_admin_creates_users_resets_passwords_and_bans_as_system(stack, api, db, ws, rt):
    name = "op_" + uuid.uuid4().hex[:8]
    r = chat_admin(stack, "create-user", name, f"{name}@example.com", "--role", "moderator")
    assert r.returncode == 0, r.stdout + r.stderr
    password = r.stdout.split("password: ")[1].split()[0]
    r = login_json(api, name, password)
    assert r.status_code == 200 and r.json()["user"]["role"] == "moderator", r.text
    first = r.json()
    # reset-password: a new password, the old one and every session gone
    r = chat_admin(stack, "reset-password", f"{name}@EXAMPLE.com")
    assert r.returncode == 0, r.stdout + r.stderr
    new_password = r.stdout.split(": ")[1].split()[0]
    assert login_json(api, name, password).status_code == 401
    assert api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {first['access_token']}"}).status_code == 401
    r = login_json(api, name, new_password)
    assert r.status_code == 200, r.text
    me = Registered(r.json()["user"], r.json()["access_token"], r.json()["refresh_token"])
    sock = ws(me, port=rt.ports[1])
    # ban / unban / suspend by the operator, with the same effects as the route's
    r = chat_admin(stack, "ban", name, "--reason", "operator says so")
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "banned", r.stdout + r.stderr
    sock.wait_closed(3)
    assert sock.close_code == 4003
    assert login_json(api, name, new_password).status_code == 403
    r = chat_admin(stack, "unban", me.user["id"])
    assert r.returncode == 0, r.stderr
    assert login_json(api, name, new_password).status_code == 200
    r = chat_admin(stack, "suspend", name, "--hours", "100")
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "suspended", r.stdout + r.stderr
    assert chat_admin(stack, "unban", name).returncode == 0
    r = chat_admin(stack, "set-role", name, "member")
    assert r.returncode == 0 and json.loads(r.stdout)["role"] == "member", r.stdout
    # every change is in the audit log, by `system`
    rows = audit_rows(db, target_id=me.user["id"])
    assert [(e["action"], e["actor"], e["actor_id"]) for e in rows] == [
        ("user.create", "system", None), ("user.role", "system", None), ("user.password_reset", "system", None),
        ("user.ban", "system", None), ("user.unban", "system", None), ("user.suspend", "system", None),
        ("user.unban", "system", None), ("user.role", "system", None)], rows
    # and chat-admin reads it back, as text and as JSON
    r = chat_admin(stack, "audit-log", "--target", name, "--json")
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    assert [e["action"] for e in listed] == [e["action"] for e in reversed(rows)], listed
    r = chat_admin(stack, "audit-log", "--actor", "system", "--action", "user.ban", "--limit", "5")
    assert r.returncode == 0 and "user.ban" in r.stdout and name in r.stdout, r.stdout


def test_chat_admin_recovers_a_lost_admin_password(stack, api):
    """An admin (made by the operator: nobody above an admin could) whose password is lost: reset-password."""
    name = "boss_" + uuid.uuid4().hex[:8]
    r = chat_admin(stack, "create-user", name, f"{name}@example.com", "--role", "admin", "--password", PASSWORD)
    assert r.returncode == 0 and "password:" not in r.stdout, r.stdout + r.stderr
    assert login_json(api, name, PASSWORD).json()["user"]["role"] == "admin"
    r = chat_admin(stack, "reset-password", name)
    assert r.returncode == 0, r.stderr
    new_password = r.stdout.split(": ")[1].split()[0]
    assert login_json(api, name, PASSWORD).status_code == 401
    r = login_json(api, name, new_password)
    assert r.status_code == 200 and r.json()["user"]["role"] == "admin", r.text
