# CTest `repo_paths`: the repository stands on its own; what it cites is in it.
"""Fails when a file of the repository names something outside it, or cites a page of docs/ that is not there:

  * a directory next to the checkout: the `shared` one always (the notes the project started from live there,
    and nobody who clones the repository has them), and every directory that really is next to this checkout,
    written as a relative path that climbs out of it;
  * the API or DESIGN notes by their file names anywhere but as pages of docs/, and a docs/<name>.md that does
    not exist;
  * an anchor of docs/api.md (`docs/api.md#errors`) that none of its headings or `<a id>`s defines, and a
    numbered section of docs/events.md or docs/worker.md (`§2`) that the page does not have;
  * an absolute path of a build machine: a home directory (root's, one under /home, a macOS one), the
    workspace this project is developed in, a pyenv tree, and the absolute paths of this checkout, its parent
    and $HOME as they are on the machine running the test.

System paths a program legitimately uses (`/usr/bin/python3`, `/usr/lib/postgresql/15/bin`, `/etc/chat`,
`/var/lib/chat`, `/run/chat`, `/tmp/chat-it-*`) are not machine-specific and are not reported. The files are
`git ls-files --cached --others --exclude-standard`: every tracked file, and new ones before they are added.
The patterns are written so that this file does not match itself, so it needs no exception. A path inside a
container or chroot the tests build (its root's home, say) is not one of this machine's: the line says so with
`not-a-host-path` (in a comment, with the reason), which waives the home-directory and pyenv patterns for that
line only, never the rest.

    /usr/bin/python3 tests/unit/repo_paths_check.py
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# An absolute path starts a word: at the start of a line, after white space, a quote, `=`, `(`, `:`, `,`, `[`,
# `<` or `>` — not after another component (`/proc/{pid}/root`, `https://host/work/x` are not machine paths).
PATH_START = r"(?<![^\s\"'`=(:,\[<>])"
MACHINE_PATHS = [
    (re.compile(PATH_START + r"/(?:root|Users)/"), "a home directory of a build machine"),
    (re.compile(PATH_START + r"/home/[\w.-]+"), "a home directory of a build machine"),
    (re.compile(PATH_START + r"/(?:work)/"), "the development workspace"),
    (re.compile(r"[/~]\.?pyenv/"), "a pyenv installation"),
]
WAIVER = "not-a-host-" + "path"
SHARED = re.compile(r"\.\./+shared\b")
DESIGN_NOTES = re.compile(r"(?<![\w-])(?:API|DESIGN)\.md")
DOC_PAGE = re.compile(r"(?<![\w./-])docs/([\w.-]+\.md)\b")
API_ANCHOR = re.compile(r"docs/api\.md#([\w-]+)")
NUMBERED_SECTION = re.compile(r"docs/(events|worker)\.md §(\d+)")


def repo_files() -> list[Path]:
    r = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                       capture_output=True, check=True)
    return [REPO / name for name in r.stdout.decode().split("\0") if name and (REPO / name).is_file()]


def text_of(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None  # binary
    return data.decode("utf-8", errors="replace")


def github_slug(heading: str) -> str:
    """The anchor GitHub (and most Markdown renderers) give a heading."""
    text = re.sub(r"`|\*\*|<[^>]+>", "", heading).strip().lower()
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text))


def anchors(page: Path) -> set[str]:
    if not page.is_file():
        return set()
    text = page.read_text()
    seen: dict[str, int] = {}
    out = set(re.findall(r'<a id="([\w-]+)"', text))
    in_code = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        m = None if in_code else re.match(r"#{1,6} (.+)", line)
        if m:
            slug = github_slug(m.group(1))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def numbered_sections(page: Path) -> set[str]:
    return set(re.findall(r"^## (\d+)\.", page.read_text(), re.M)) if page.is_file() else set()


# Directories every machine has: a checkout under one of them does not make it a path of this machine.
SYSTEM_DIRS = {"", "/", "/tmp", "/var/tmp", "/home", "/usr", "/usr/local", "/opt", "/srv", "/mnt", "/var", "/run"}


def machine_roots() -> list[tuple[re.Pattern, bool]]:
    """This checkout, its parent and $HOME as absolute paths, as whole path components; True for $HOME (a home
    directory, which the waiver covers)."""
    home = os.environ.get("HOME", "").rstrip("/")
    roots = {str(REPO), str(REPO.parent), home} - SYSTEM_DIRS
    return [(re.compile(PATH_START + re.escape(r) + r"(?![\w.-])"), r == home) for r in sorted(roots)]


def sibling_patterns() -> list[re.Pattern]:
    """`../<name>` for each directory next to the checkout, except names the repository also has at its top
    (`../docs` from a subdirectory is the repository's own)."""
    own = {p.name for p in REPO.iterdir()}
    names = [p.name for p in REPO.parent.iterdir() if p.is_dir() and p.resolve() != REPO and p.name not in own]
    return [re.compile(r"(?<![\w.])\.\./+" + re.escape(n) + r"(?![\w.-])") for n in names]


def problems_in(rel: str, text: str, siblings: list[re.Pattern], roots: list[tuple[re.Pattern, bool]],
                api_anchors: set[str], sections: dict[str, set[str]]) -> list[str]:
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        where = f"{rel}:{n}"
        waived = WAIVER in line
        for rx, what in MACHINE_PATHS if not waived else []:
            if m := rx.search(line):
                out.append(f"{where}: `{m.group(0)}` is {what}")
        for rx, is_home in roots:
            if m := (None if is_home and waived else rx.search(line)):
                place = "$HOME" if is_home else "where this checkout is"
                out.append(f"{where}: `{m.group(0)}` is {place} on this machine")
        if SHARED.search(line):
            out.append(f"{where}: the shared notes' directory is outside the repository")
        for rx in siblings:
            if m := rx.search(line):
                out.append(f"{where}: `{m.group(0)}` is a directory next to the checkout, not in it")
        for m in DESIGN_NOTES.finditer(line):
            if not line[:m.start()].endswith("docs/") or not (REPO / "docs" / m.group(0)).is_file():
                out.append(f"{where}: `{m.group(0)}` is not a page of this repository (cite docs/api.md, README.md "
                           f"or docs/*.md)")
        for m in DOC_PAGE.finditer(line):
            if not (REPO / "docs" / m.group(1)).is_file() and not DESIGN_NOTES.fullmatch(m.group(1)):
                out.append(f"{where}: docs/{m.group(1)} does not exist")
        for m in API_ANCHOR.finditer(line):
            if m.group(1) not in api_anchors:
                out.append(f"{where}: docs/api.md has no section #{m.group(1)}")
        for m in NUMBERED_SECTION.finditer(line):
            if m.group(2) not in sections[m.group(1)]:
                out.append(f"{where}: docs/{m.group(1)}.md has no section {m.group(2)}")
    return out


# Lines the check must pass and lines it must report, run before the tree so that a pattern that drifts into
# reporting system paths (or into reporting nothing) fails here, not silently. Built from pieces where a whole
# bad line would make this file report itself.
GOOD_LINES = ["c.copy_in(deb, '/ro" + "ot/chat.deb')  # " + WAIVER + ": inside the container",
              "PYTHON := /usr/bin/python3", "/usr/lib/postgresql/15/bin/pg_ctl -D data",
              "CHAT_ENV_FILE=/etc/chat/chat.env", "a fresh `/tmp/chat-it-*` run dir", "/var/lib/chat /run/chat",
              "see docs/api.md#errors and docs/events.md §1", "docs/worker.md", "deploy/README.md",
              "https://example.com/work/x", "GET /api/v1/../x", 'os.readlink(f"/proc/{entry}/root")']
BAD_LINES = [".." + "/shared/notes", "/wo" + "rk/main/build", "/ro" + "ot/bin", "/ho" + "me/ci/src",
             "~/.py" + "env/shims", "API" + ".md §1", "DESIGN" + ".md", "docs/api.md#" + "no-such-section",
             "docs/" + "no-such-page.md", "docs/events.md §" + "99",
             "c.copy_in(deb, '/ro" + "ot/chat.deb')  # " + WAIVER + ": but " + ".." + "/shared/x is still reported"]


def self_test(siblings, roots, api_anchors, sections) -> list[str]:
    out = []
    for line in GOOD_LINES:
        if found := problems_in("good", line, siblings, roots, api_anchors, sections):
            out.append(f"self-test: a legitimate line is reported: {found}")
    for line in BAD_LINES:
        if not problems_in("bad", line, siblings, roots, api_anchors, sections):
            out.append(f"self-test: {line!r} is not reported")
    return out


def main() -> int:
    siblings = sibling_patterns()
    roots = machine_roots()
    api_anchors = anchors(REPO / "docs" / "api.md")
    sections = {name: numbered_sections(REPO / "docs" / f"{name}.md") for name in ("events", "worker")}
    problems = self_test(siblings, roots, api_anchors, sections)
    files = repo_files()
    for path in files:
        text = text_of(path)
        if text is not None:
            problems += problems_in(str(path.relative_to(REPO)), text, siblings, roots, api_anchors, sections)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"repo_paths: {len(problems)} problem(s) in {len(files)} files", file=sys.stderr)
        return 1
    print(f"repo_paths: {len(files)} files name nothing outside the repository")
    return 0


if __name__ == "__main__":
    sys.exit(main())
