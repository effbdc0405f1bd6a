# CTest `handler_groups`: what CMake generated from handlers/groups.cmake agrees with the built programs.
"""Fails when a handler group of the build is missing from what starts, routes or documents it:

  * a route table in handlers/ (a `NAME_routes()` definition) that is no group of build/chat-groups.txt (the list
    deploy/stack.sh starts), or a group without its program in the build;
  * a group without its nginx upstream or its systemd socket in build/chat-handlers.target, or one more there;
  * a route of `chat-NAME --routes` that nginx (the site template with the generated locations) would not pass to
    chat_NAME, with or without a trailing slash;
  * programs whose `--schema` differ, or a route without an OpenAPI operation, or a stale docs/openapi.json
    (docs/gen_openapi.py --check on this build);
  * deploy/stack.sh starting without build/chat-groups.txt instead of saying it is missing.

    /usr/bin/python3 tests/unit/handler_groups_check.py --build-dir build
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROBLEMS: list[str] = []


def problem(msg: str) -> None:
    PROBLEMS.append(msg)


def groups_of(build: Path) -> list[str]:
    f = build / "chat-groups.txt"
    if not f.is_file():
        raise SystemExit(f"no {f}: run cmake first")
    groups = [line.strip() for line in f.read_text().splitlines() if line.strip() and not line.startswith("#")]
    if not groups:
        problem(f"{f} lists no group")
    if len(set(groups)) != len(groups):
        problem(f"{f} lists a group twice: {groups}")
    return groups


def ask(build: Path, group: str, flag: str):
    exe = build / f"chat-{group}"
    r = subprocess.run([str(exe), flag], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        problem(f"{exe} {flag}: exit status {r.returncode}: {r.stderr.strip()}")
        return None
    try:
        return json.loads(r.stdout)
    except ValueError as e:
        problem(f"{exe} {flag}: not JSON ({e}): {r.stdout[:200]!r}")
        return None


def check_route_tables_are_groups(groups: list[str]) -> None:
    tables = set()
    for f in (REPO / "handlers").rglob("*.cpp"):
        tables |= set(re.findall(r"std::vector<http::Route>\s+(\w+)_routes\(\)\s*\{", f.read_text()))
    for name in sorted(tables - set(groups)):
        problem(f"handlers/ defines {name}_routes(), but {name} is no group of handlers/groups.cmake")


# ---- nginx: the server block as nginx reads it, locations chosen the way nginx chooses them


def expand(text: str, dirs: list[Path]) -> str:
    """The text with each `include chat/chat-*.conf;` replaced by that file (the generated ones from the build)."""
    def sub(m: re.Match) -> str:
        for d in dirs:
            if (d / m.group(1)).is_file():
                return expand((d / m.group(1)).read_text(), dirs)
        problem(f"nginx: no {m.group(1)} in {', '.join(map(str, dirs))}")
        return ""
    return re.sub(r"^\s*include\s+chat/(chat-[\w-]+\.conf)\s*;", sub, text, flags=re.M)


def locations(text: str) -> list[tuple[str, str, str]]:
    """(modifier, uri, body) of every location block, in order."""
    text = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    out = []
    for m in re.finditer(r"\blocation\s+(=|~\*|~|\^~)?\s*(\S+)\s*\{", text):
        depth, i = 1, m.end()
        while depth and i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        out.append((m.group(1) or "", m.group(2), text[m.end():i - 1]))
    return out


def nginx_choice(locs: list[tuple[str, str, str]], uri: str):
    """The location nginx picks for uri: exact, else the longest prefix unless a regex (in order) matches, unless
    that prefix is ^~ (https://nginx.org/en/docs/http/ngx_http_core_module.html#location)."""
    for mod, u, body in locs:
        if mod == "=" and u == uri:
            return (mod, u, body)
    prefixes = [loc for loc in locs if loc[0] in ("", "^~") and not loc[1].startswith("@") and uri.startswith(loc[1])]
    longest = max(prefixes, key=lambda loc: len(loc[1]), default=None)
    if longest and longest[0] == "^~":
        return longest
    for mod, u, body in locs:
        if mod in ("~", "~*") and re.search(u, uri, re.I if mod == "~*" else 0):
            return (mod, u, body)
    return longest


def check_nginx(build: Path, groups: list[str], routes: dict[str, list]) -> None:
    dirs = [REPO / "nginx", build / "nginx"]
    template = (REPO / "nginx" / "chat-site.conf.template").read_text()
    for f in ("chat-group-upstreams.conf", "chat-group-locations.conf"):
        if not re.search(rf"^\s*include\s+chat/{re.escape(f)}\s*;", template, re.M):
            problem(f"chat-site.conf.template does not include chat/{f}")
    ups = (build / "nginx" / "chat-group-upstreams.conf").read_text()
    found = dict(re.findall(r"upstream\s+chat_(\w+)\s*\{\s*server\s+unix:\$\{CHAT_SOCK_DIR\}/(\S+)\.sock;", ups))
    if set(found) != set(groups):
        problem(f"nginx upstreams {sorted(found)} are not the groups {sorted(groups)}")
    for g, sock in found.items():
        if sock != g:
            problem(f"nginx upstream chat_{g} is on {sock}.sock, not {g}.sock")
    locs = locations(expand(template, dirs))
    for g, rows in routes.items():
        for row in rows:
            path = re.sub(r"\{\w+\}", "x", row["path"])
            for uri in {path, path if path == "/" else path + "/"}:
                loc = nginx_choice(locs, uri)
                passes = re.findall(r"fastcgi_pass\s+(\S+?);", loc[2]) if loc else []
                if passes != [f"chat_{g}"]:
                    where = f"location {loc[0]} {loc[1]}" if loc else "no location"
                    problem(f"nginx sends {row['method']} {uri} ({row['path']} of chat-{g}) to {where} "
                            f"(fastcgi_pass {passes}), not to chat_{g}")


def check_systemd(build: Path, groups: list[str]) -> None:
    f = build / "systemd" / "chat-handlers.target"
    wants = set()
    for m in re.finditer(r"^Wants=(.*)$", f.read_text(), re.M):
        wants |= set(m.group(1).split())
    expected = {f"chat-handler@{g}.socket" for g in groups}
    if wants != expected:
        problem(f"{f} wants {sorted(wants)}, not {sorted(expected)}")


def check_openapi(build: Path) -> None:
    r = subprocess.run([sys.executable, str(REPO / "docs" / "gen_openapi.py"), "--build-dir", str(build), "--check"],
                       capture_output=True, text=True, timeout=120, cwd=REPO)
    if r.returncode != 0:
        problem(f"docs/gen_openapi.py --check on {build}: {r.stdout}{r.stderr}".strip())


def check_stack_needs_the_list() -> None:
    with tempfile.TemporaryDirectory(prefix="chat-groups-", dir="/tmp") as tmp:
        env = dict(os.environ, CHAT_BUILD_DIR=f"{tmp}/build", CHAT_RUN_DIR=f"{tmp}/run")
        r = subprocess.run(["bash", str(REPO / "deploy" / "stack.sh"), "up"], capture_output=True, text=True,
                           timeout=60, env=env, stdin=subprocess.DEVNULL)
        if r.returncode == 0 or "chat-groups.txt" not in r.stderr:
            problem(f"deploy/stack.sh up without {tmp}/build/chat-groups.txt: exit {r.returncode}, {r.stderr.strip()!r}")


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "--build-dir":
        print(__doc__, file=sys.stderr)
        return 2
    build = Path(argv[1]).resolve()
    groups = groups_of(build)
    check_route_tables_are_groups(groups)
    routes = {}
    schemas = {}
    for g in groups:
        if not os.access(build / f"chat-{g}", os.X_OK):
            problem(f"group {g}: no program {build / f'chat-{g}'}")
            continue
        rows = ask(build, g, "--routes")
        if rows is not None:
            if not rows or not all(set(r) == {"method", "path"} for r in rows):
                problem(f"chat-{g} --routes: not a list of {{method, path}}: {rows}")
            routes[g] = rows
        schemas[g] = ask(build, g, "--schema")
    first = next(iter(schemas.values()), None)
    differ = [f"chat-{g}" for g, s in schemas.items() if s != first]
    if differ:
        problem(f"--schema of {', '.join(differ)} differs from chat-{groups[0]}'s (a stale program?)")
    check_nginx(build, groups, routes)
    check_systemd(build, groups)
    check_openapi(build)
    check_stack_needs_the_list()
    for p in PROBLEMS:
        print(f"handler groups: {p}", file=sys.stderr)
    if not PROBLEMS:
        print(f"handler groups: {len(groups)} groups, {sum(map(len, routes.values()))} routes: programs, nginx, "
              "systemd, stack list and OpenAPI agree")
    return 1 if PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
