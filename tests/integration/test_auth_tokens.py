"""§3 tokens: JWT validation, refresh rotation and reuse, logout, password change."""
import hashlib
import hmac
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import (
    AUTH_FIELDS, PASSWORD, assert_401_invalid, assert_401_missing, assert_422, assert_error,
    assert_user, auth_headers, b64url, forge_jwt, jwt_parts, jwt_payload, login_json,
)

ME = "/api/v1/auth/me"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
PASSWORD_URL = "/api/v1/auth/password"


def me(api, token):
    return api.get(ME, headers=auth_headers(token))


def refresh(api, refresh_token):
    return api.post(REFRESH, json={"refresh_token": refresh_token})


# ---------------------------------------------------------------------------------------------
# the access token


def test_no_authorization_header(api):
    assert_401_missing(api.get(ME))
    assert_401_missing(api.get("/api/v1/users/me"))
    assert_401_missing(api.post(LOGOUT))


def test_non_bearer_scheme_is_not_authenticated(api, user):
    assert_401_missing(api.get(ME, headers={"Authorization": "Basic dXNlcjpwYXNz"}))


def test_bearer_scheme_case_insensitive(api, user):
    r = api.get(ME, headers={"Authorization": f"bearer {user.access}"})
    assert r.status_code == 200, r.text


def test_access_token_claims(stack, user):
    header, claims = jwt_parts(user.access)
    assert header["alg"] == "HS256"
    assert claims["sub"] == user.user["id"]
    assert isinstance(claims["jti"], str) and claims["jti"]
    assert isinstance(claims["sid"], str) and claims["sid"]
    assert abs(claims["iat"] - time.time()) < 120, claims
    assert claims["exp"] - claims["iat"] == stack.access_minutes * 60


def test_forged_token_with_right_secret_is_accepted(api, stack, user):
    """Control for the negative cases below: our HS256 signing matches the server's."""
    claims = jwt_payload(user.access)
    token = forge_jwt(claims, stack.jwt_secret, "HS256")
    r = me(api, token)
    assert r.status_code == 200 and r.json()["id"] == user.user["id"], r.text


def _sign(key, signing_input):
    return b64url(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())


def test_header_without_typ_is_accepted(api, stack, user):
    """typ is optional (RFC 7519 §5.1): alg HS256 alone is a valid header."""
    token = forge_jwt(jwt_payload(user.access), stack.jwt_secret, "HS256", header={"alg": "HS256"})
    assert me(api, token).status_code == 200


def test_very_long_bearer_token(api, user):
    assert_401_invalid(me(api, user.access + "A" * 6000))


def _variants(stack, user, other_id):
    claims = jwt_payload(user.access)
    key = stack.jwt_secret
    now = int(time.time())
    h, p, s = user.access.split(".")
    tampered_payload = b64url(
        json.dumps({**claims, "sub": other_id}, separators=(",", ":")).encode()
    )
    no_exp = {k: v for k, v in claims.items() if k != "exp"}
    return {
        "alg_none": forge_jwt(claims, None, "none"),
        "alg_None": forge_jwt(claims, None, "None"),
        "alg_NONE_with_sig": forge_jwt(claims, None, "NONE", header={"alg": "NONE", "typ": "JWT"}) + s,
        "hs384_right_secret": forge_jwt(claims, key, "HS384"),
        "hs512_right_secret": forge_jwt(claims, key, "HS512"),
        "hs256_header_says_hs512": forge_jwt(claims, key, "HS256", header={"alg": "HS512", "typ": "JWT"}),
        "tampered_payload": f"{h}.{tampered_payload}.{s}",
        "signature_stripped": f"{h}.{p}.",
        "wrong_key": forge_jwt(claims, b"not-the-secret-" + key, "HS256"),
        "no_exp": forge_jwt(no_exp, key, "HS256"),
        "expired": forge_jwt({**claims, "iat": now - 7200, "exp": now - 3600}, key, "HS256"),
        "unknown_sub": forge_jwt({**claims, "sub": str(uuid.uuid4())}, key, "HS256"),
        "malformed_sub": forge_jwt({**claims, "sub": "not-a-uuid"}, key, "HS256"),
        "payload_not_json": f"{h}.{b64url(b'not json')}." + _sign(key, f"{h}.{b64url(b'not json')}"),
        "payload_json_array": f"{h}.{b64url(b'[1,2]')}." + _sign(key, f"{h}.{b64url(b'[1,2]')}"),
        "header_not_json": f"{b64url(b'nope')}.{p}." + _sign(key, f"{b64url(b'nope')}.{p}"),
        "exp_as_string": forge_jwt({**claims, "exp": str(claims["exp"])}, key, "HS256"),
        "sub_as_number": forge_jwt({**claims, "sub": 12345}, key, "HS256"),
        "four_segments": user.access + ".x",
        "garbage": "abc.def.ghi",
        "not_a_jwt": "garbage",
    }


VARIANTS = [
    "alg_none", "alg_None", "alg_NONE_with_sig", "hs384_right_secret", "hs512_right_secret",
    "hs256_header_says_hs512", "tampered_payload", "signature_stripped", "wrong_key", "no_exp",
    "expired", "unknown_sub", "malformed_sub", "payload_not_json", "payload_json_array", "header_not_json",
    "exp_as_string", "sub_as_number", "four_segments", "garbage", "not_a_jwt",
]


@pytest.mark.parametrize("variant", VARIANTS)
def test_bad_tokens_rejected(api, stack, user, admin, variant):
    token = _variants(stack, user, admin.user["id"])[variant]
    assert_401_invalid(me(api, token))
    assert_401_invalid(api.get("/api/v1/users/me", headers=auth_headers(token)))


def test_token_of_logged_out_sid_rejected_even_if_fresh(api, stack, user):
    claims = jwt_payload(user.access)
    assert api.post(LOGOUT, headers=auth_headers(user.access)).status_code == 204
    now = int(time.time())
    fresh = forge_jwt({**claims, "jti": uuid.uuid4().hex, "iat": now, "exp": now + 600}, stack.jwt_secret)
    assert_401_invalid(me(api, fresh))


# ---------------------------------------------------------------------------------------------
# refresh


def test_refresh_rotates_and_keeps_sid(api, user):
    r = refresh(api, user.refresh)
    assert r.status_code == 200, r.text
    d = r.json()
    assert AUTH_FIELDS <= set(d) and d["token_type"] == "bearer", d
    assert_user(d["user"], email_visible=True)
    assert d["user"]["id"] == user.user["id"]
    assert d["access_token"] != user.access and d["refresh_token"] != user.refresh
    old, new = jwt_payload(user.access), jwt_payload(d["access_token"])
    assert new["sid"] == old["sid"] and new["jti"] != old["jti"] and new["sub"] == old["sub"]
    assert me(api, d["access_token"]).status_code == 200
    # the new refresh token works in turn
    r2 = refresh(api, d["refresh_token"])
    assert r2.status_code == 200, r2.text
    assert jwt_payload(r2.json()["access_token"])["sid"] == old["sid"]


def test_refresh_reuse_revokes_session(api, user, login):
    other = login(user.user["username"])  # another session of the same user
    r = refresh(api, user.refresh)
    assert r.status_code == 200, r.text
    a2, r2 = r.json()["access_token"], r.json()["refresh_token"]
    assert me(api, a2).status_code == 200
    r = refresh(api, r2)
    assert r.status_code == 200, r.text
    a3, r3 = r.json()["access_token"], r.json()["refresh_token"]
    assert me(api, a3).status_code == 200
    # reuse of the first (already rotated) refresh token
    assert refresh(api, user.refresh).status_code == 401
    # ... revokes the whole session: the newest access and refresh tokens die with it
    assert_401_invalid(me(api, a3))
    assert refresh(api, r3).status_code == 401
    assert_401_invalid(me(api, a2))
    assert_401_invalid(me(api, user.access))
    # other sessions of the user are untouched
    assert me(api, other.access).status_code == 200
    assert refresh(api, other.refresh).status_code == 200


def age_rotation(db, refresh_token: str, seconds: int) -> None:
    """Moves the rotation of this refresh token `seconds` into the past (past the reuse grace window)."""
    digest = hashlib.sha256(refresh_token.encode()).hexdigest()
    db("UPDATE refresh_tokens SET used_at = used_at - make_interval(secs => :'p2') WHERE token_hash = :'p1'",
       digest, seconds)


def test_refresh_old_token_fails_after_rotation(api, user, db):
    assert refresh(api, user.refresh).status_code == 200
    age_rotation(db, user.refresh, 60)
    r = refresh(api, user.refresh)
    assert r.status_code == 401, r.text


def test_a_reuse_within_the_grace_window_gets_the_same_new_pair(api, user):
    """Two tabs refreshing at once: the second use of the just-rotated token is not theft."""
    first = refresh(api, user.refresh)
    assert first.status_code == 200, first.text
    again = refresh(api, user.refresh)
    assert again.status_code == 200, again.text
    a, b = first.json(), again.json()
    assert (b["access_token"], b["refresh_token"]) == (a["access_token"], a["refresh_token"])
    assert me(api, a["access_token"]).status_code == 200
    nxt = refresh(api, a["refresh_token"])  # the pair is the session's current one: it rotates on
    assert nxt.status_code == 200, nxt.text
    assert me(api, nxt.json()["access_token"]).status_code == 200


def test_a_reuse_after_the_grace_window_revokes_the_session(api, user, db):
    first = refresh(api, user.refresh)
    assert first.status_code == 200, first.text
    age_rotation(db, user.refresh, 60)
    assert_401_invalid(refresh(api, user.refresh))
    assert_401_invalid(me(api, first.json()["access_token"]))
    assert refresh(api, first.json()["refresh_token"]).status_code == 401


def test_a_reuse_after_the_new_token_was_rotated_again_revokes_the_session(api, user):
    first = refresh(api, user.refresh)
    second = refresh(api, first.json()["refresh_token"])
    assert second.status_code == 200, second.text
    assert_401_invalid(refresh(api, user.refresh))  # within the window, but its pair is no longer current
    assert_401_invalid(me(api, second.json()["access_token"]))


@pytest.mark.parametrize("token", ["garbage", "x" * 64, "a.b.c"])
def test_refresh_garbage(api, token):
    assert_error(refresh(api, token), 401)


def test_refresh_with_access_token_fails(api, user):
    assert_error(refresh(api, user.access), 401)


def test_refresh_validation(api):
    assert_422(api.post(REFRESH, json={}), ("body", "refresh_token"))
    assert_422(api.post(REFRESH, json={"refresh_token": 42}), ("body", "refresh_token"))


# ---------------------------------------------------------------------------------------------
# logout


def test_logout(api, user, login):
    other = login(user.user["username"])
    r = api.post(LOGOUT, headers={**auth_headers(user.access), "Content-Type": "application/json"})
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert_401_invalid(me(api, user.access))
    assert refresh(api, user.refresh).status_code == 401
    assert_401_invalid(api.post(LOGOUT, headers=auth_headers(user.access)))
    # the other session goes on
    assert me(api, other.access).status_code == 200
    r = refresh(api, other.refresh)
    assert r.status_code == 200, r.text


def test_logout_after_refresh_kills_refreshed_tokens(api, user):
    r = refresh(api, user.refresh)
    a2, r2 = r.json()["access_token"], r.json()["refresh_token"]
    assert api.post(LOGOUT, headers=auth_headers(a2)).status_code == 204
    assert_401_invalid(me(api, a2))
    assert_401_invalid(me(api, user.access))
    assert refresh(api, r2).status_code == 401


# ---------------------------------------------------------------------------------------------
# password change


def test_password_change(api, user, login):
    other = login(user.user["username"])
    new_pw = "New-password-42"
    r = api.put(PASSWORD_URL, json={"current_password": PASSWORD, "new_password": new_pw},
                headers=auth_headers(user.access))
    assert r.status_code == 204, r.text
    # the current session goes on
    assert me(api, user.access).status_code == 200
    # every other session is revoked
    assert_401_invalid(me(api, other.access))
    assert refresh(api, other.refresh).status_code == 401
    # the old password is gone, the new one works
    assert_error(login_json(api, user.user["username"], PASSWORD), 401, "Incorrect username or password")
    assert login_json(api, user.user["username"], new_pw).status_code == 200
    # the current session can still refresh
    r = refresh(api, user.refresh)
    assert r.status_code == 200, r.text


def test_password_change_wrong_current(api, user):
    r = api.put(PASSWORD_URL, json={"current_password": "not-my-password", "new_password": "New-password-42"},
                headers=auth_headers(user.access))
    assert_error(r, 400, "Incorrect password")
    assert login_json(api, user.user["username"], PASSWORD).status_code == 200
    assert me(api, user.access).status_code == 200


def test_password_change_validation(api, user):
    h = auth_headers(user.access)
    assert_422(api.put(PASSWORD_URL, json={"current_password": PASSWORD, "new_password": "short"}, headers=h),
               ("body", "new_password"))
    assert_422(api.put(PASSWORD_URL, json={"current_password": PASSWORD}, headers=h), ("body", "new_password"))
    assert_422(api.put(PASSWORD_URL, json={}, headers=h), ("body", "current_password"), ("body", "new_password"))
    assert login_json(api, user.user["username"], PASSWORD).status_code == 200


def test_password_change_requires_auth(api):
    assert_401_missing(api.put(PASSWORD_URL, json={"current_password": PASSWORD, "new_password": "New-password-42"}))


def test_concurrent_refreshes_of_one_token_keep_the_session(api, user):
    """Five tabs refreshing the same token at once all get the same new pair, and the user stays logged in."""
    with ThreadPoolExecutor(5) as pool:
        rs = list(pool.map(lambda _: refresh(api, user.refresh), range(5)))
    assert all(r.status_code == 200 for r in rs), [(r.status_code, r.text[:80]) for r in rs]
    pairs = {(r.json()["access_token"], r.json()["refresh_token"]) for r in rs}
    assert len(pairs) == 1, pairs
    access, refreshed = pairs.pop()
    assert me(api, access).status_code == 200
    assert refresh(api, refreshed).status_code == 200


def test_password_change_stores_new_argon2id_hash(api, user, db):
    before = db("SELECT hashed_password FROM users WHERE id = :'p1'", user.user["id"])[0][0]
    r = api.put(PASSWORD_URL, json={"current_password": PASSWORD, "new_password": "Another-pw-77"},
                headers=auth_headers(user.access))
    assert r.status_code == 204, r.text
    after = db("SELECT hashed_password FROM users WHERE id = :'p1'", user.user["id"])[0][0]
    assert after != before and after.startswith("$argon2id$v=19$"), after


def test_password_change_too_long(api, user):
    r = api.put(PASSWORD_URL, json={"current_password": PASSWORD, "new_password": "p" * 257},
                headers=auth_headers(user.access))
    assert_422(r, ("body", "new_password"))
