"""§9.1 typing across daemons: a typist with tabs on two daemons keeps typing while any tab lives, and
closing its last tab anywhere ends it for the others at once (not only at the 10 s expiry).

Ephemeral signals travel through Redis pub/sub, not the events stream, so absence is proven with a later
signal through the same channel: pub/sub delivers in publish order, and a daemon publishes in order."""
import time

from chat_helpers import (  # noqa: F401 (fixtures: api_fixture is `api`, users_fixture is `users`)
    _user_pool, api_fixture, users_fixture,
    CHANNELS, H, create_channel, join, uid,
)
from ws_helpers import assert_stamped, rt, ws  # noqa: F401 (fixtures rt, ws)

TYPING_FIELDS = {"type", "user_id", "username", "channel_id", "is_typing", "timestamp"}
STATUS_FIELDS = {"type", "user_id", "status", "last_seen_at", "timestamp"}


def typing(sock, cid, flag=True):
    sock.send_json({"type": "typing_indicator", "channel_id": cid, "is_typing": flag})


def assert_typing(e, user, cid, flag):
    assert set(e) == TYPING_FIELDS, e
    assert (e["user_id"], e["username"], e["channel_id"], e["is_typing"]) == (
        uid(user), user.user["username"], cid, flag), e
    assert_stamped(e)


def typing_of(sock, user, cid, since, flag=None):
    return [e for e in sock.events("typing_indicator", since=since, user_id=uid(user), channel_id=cid)
            if flag is None or e["is_typing"] is flag]



def test_typing_ends_on_the_other_daemon_too_only_with_the_last_socket(api, users, rt, ws):
    """The typist's tabs sit on both daemons; closing the one that typed leaves the user connected."""
    a, b, c = users(3)
    ch = create_channel(api, a)
    join(api, b, ch["id"])
    join(api, c, ch["id"])
    a1, a2 = ws(a, port=rt.ports[0]), ws(a, port=rt.ports[1])
    sb = ws(b, port=rt.ports[1])
    sc = ws(c, port=rt.ports[0])
    mark = sb.mark()
    typing(a1, ch["id"], True)
    sb.wait_event("typing_indicator", 5, since=mark, user_id=uid(a), is_typing=True)
    a1.close()
    typing(sc, ch["id"], True)  # same daemon as the closed tab, published after the close
    sb.wait_event("typing_indicator", 5, since=mark, user_id=uid(c))
    assert typing_of(sb, a, ch["id"], mark, False) == [], \
        "is_typing false although the typist still has a socket open (on the other daemon)"
    t0 = time.monotonic()
    a2.close()
    f = sb.wait(lambda f: f.type == "typing_indicator" and f.obj["user_id"] == uid(a) and f.obj["is_typing"] is False,
                3, "is_typing false after the typist's last socket closed", since=mark)
    assert f.at - t0 < 2.0, f"{f.at - t0:.2f} s"


