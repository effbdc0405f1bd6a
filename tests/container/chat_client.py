#!/usr/bin/python3
"""A client of the installed backend for test_deb.py, run on the host inside the container's network namespace
(Container.net_run), so 127.0.0.1 is the container's nginx. Debian's python3-websockets (10.x: asyncio only).

    chat_client.py BASE_URL round-trip      register, create a channel, open /ws through nginx, send a message over
                                            REST and receive its new_message event; prints {token, channel, message}
    chat_client.py BASE_URL read TOKEN ID   the message ID as TOKEN's user reads it (prints its JSON)
"""
from __future__ import annotations

import asyncio
import json
import sys
import uuid
import urllib.request

import websockets


def call(base: str, method: str, path: str, body=None, token: str | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(base + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, {"error": e.read().decode(errors="replace")}


def expect(got: tuple[int, dict], status: int, what: str) -> dict:
    if got[0] != status:
        raise SystemExit(f"{what}: HTTP {got[0]}, expected {status}: {got[1]}")
    return got[1]


async def round_trip(base: str) -> dict:
    name = "u" + uuid.uuid4().hex[:10]
    reg = expect(call(base, "POST", "/api/v1/auth/register",
                      {"email": f"{name}@example.com", "username": name, "password": "correct horse battery"}),
                 201, "register")
    token = reg["access_token"]
    ch = expect(call(base, "POST", "/api/v1/channels/", {"name": "c" + name, "is_private": False}, token),
                201, "create channel")
    ws_url = base.replace("http://", "ws://") + f"/ws?token={token}"
    async with websockets.connect(ws_url, open_timeout=10) as ws:
        # the daemon has the user's conversations once the upgrade is answered; a first frame may follow
        try:
            await asyncio.wait_for(ws.recv(), 1)
        except asyncio.TimeoutError:
            pass
        msg = expect(call(base, "POST", "/api/v1/messages/", {"channel_id": ch["id"], "content": "hello " + name},
                          token), 201, "send")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise SystemExit(f"no new_message {msg['id']} on /ws within 10 s")
            frame = json.loads(await asyncio.wait_for(ws.recv(), left))
            if frame.get("type") == "new_message" and (frame.get("data") or {}).get("id") == msg["id"]:
                break
    return {"token": token, "channel": ch["id"], "message": msg["id"], "content": msg["content"]}


def main(argv: list[str]) -> int:
    base = argv[0].rstrip("/")
    if argv[1:] == ["round-trip"]:
        print(json.dumps(asyncio.run(round_trip(base))))
        return 0
    if len(argv) == 4 and argv[1] == "read":
        print(json.dumps(expect(call(base, "GET", f"/api/v1/messages/{argv[3]}", token=argv[2]), 200, "read")))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
