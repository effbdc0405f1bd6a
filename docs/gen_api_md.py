# Regenerate the generated sections of docs/api.md from the repo root with: /usr/bin/python3 docs/gen_api_md.py
"""Writes the route reference and the schema tables of docs/api.md from docs/openapi.json.

docs/api.md is hand-written except between its marker comments (`<!-- BEGIN routes ... -->` ... `<!-- END
routes -->`, and the same for `schemas`): those blocks are rendered here from docs/openapi.json, which
docs/gen_openapi.py writes from the built programs' route tables, so the page cannot list a route, a status or a
field the server does not have. The hand-written part is checked too: every WebSocket frame type of the schema
(`Ws…` schemas) must be described in its WebSocket section.

    /usr/bin/python3 docs/gen_api_md.py           # rewrite the generated blocks of docs/api.md
    /usr/bin/python3 docs/gen_api_md.py --check   # exit 1 when docs/api.md differs from what would be written

The CTest `api_md` runs --check.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
SPEC = DOCS / "openapi.json"
PAGE = DOCS / "api.md"
BLOCKS = ("routes", "schemas")
METHODS = ("get", "put", "post", "delete", "patch")


def fail(msg: str):
    raise SystemExit(f"gen_api_md.py: {msg}")


def cell(text: str) -> str:
    """Text fit for one cell of a Markdown table."""
    return " ".join(str(text).split()).replace("|", "\\|")


def schema_anchor(name: str) -> str:
    return "schema-" + name.lower()


def ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_of(s: dict) -> str:
    """A schema as a short phrase: `string (uuid)`, `array of [User](#schema-user)`, `integer or null`."""
    if "$ref" in s:
        n = ref_name(s["$ref"])
        return f"[{n}](#{schema_anchor(n)})"
    for combo, word in (("allOf", " and "), ("anyOf", " or "), ("oneOf", " or ")):
        if combo in s and "type" not in s and "properties" not in s:
            return word.join(type_of(x) for x in s[combo])
    types = s.get("type", "any")
    types = types if isinstance(types, list) else [types]
    words = []
    for t in types:
        if t == "array":
            words.append("array of " + type_of(s.get("items", {})))
        elif t == "null":
            continue
        else:
            words.append(f"{t} ({s['format']})" if "format" in s and t == "string" else t)
    text = " or ".join(words) or "null"
    if "null" in types:
        text += " or null"
    return text


def constraints(s: dict) -> list[str]:
    out = []
    if "enum" in s:
        values = ["`null`" if v is None else f"`{v}`" for v in s["enum"]]
        out.append(("always " if len(values) == 1 else "one of ") + ", ".join(values))
    if s.get("minLength") == 1:
        out.append("not empty")
    bounds = [("minLength", "at least {} characters"), ("maxLength", "at most {} characters"),
              ("minimum", "≥ {}"), ("exclusiveMinimum", "> {}"), ("maximum", "≤ {}"),
              ("minItems", "at least {} items"), ("maxItems", "at most {} items"),
              ("pattern", "matches `{}`"), ("default", "default `{}`")]
    for key, phrase in bounds:
        if key in s and not (key == "minLength" and s[key] == 1):
            v = s[key]
            out.append(phrase.format(json.dumps(v) if key == "default" else v))
    return out


def notes(description: str, s: dict) -> str:
    """A description followed by the schema's constraints: `The username or the email; not empty`."""
    parts = [description.rstrip(".")] if description else []
    return "; ".join(parts + constraints(s))


def field_rows(schema: dict, spec: dict, prefix: str = "") -> list[str]:
    """`| field | type | required | notes |` rows of an object schema (an allOf is listed as its parts, the fields
    of an inline object as `outer.inner`)."""
    rows = []
    for part in schema.get("allOf", []):
        if "$ref" in part:
            n = ref_name(part["$ref"])
            rows.append(f"| (every field of [{n}](#{schema_anchor(n)})) | | | |")
        else:
            rows += field_rows(part, spec, prefix)
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        rows.append(f"| `{prefix}{name}` | {cell(type_of(prop))} | {'yes' if name in required else 'no'} | "
                    f"{cell(notes(prop.get('description', ''), prop))} |")
        if "properties" in prop:
            rows += field_rows(prop, spec, f"{prefix}{name}.")
    return rows


def one_of_required(schema: dict) -> str:
    alts = [" and ".join(f"`{f}`" for f in a["required"]) for a in schema.get("anyOf", []) if "required" in a]
    return ("At least one of " + ", ".join(alts) + " is required.") if alts else ""


def render_schemas(spec: dict) -> list[str]:
    out = []
    for name, schema in spec["components"]["schemas"].items():
        out += ["", f'<a id="{schema_anchor(name)}"></a>', f"### `{name}`", ""]
        if schema.get("description"):
            out += [" ".join(schema["description"].split()), ""]
        rows = field_rows(schema, spec)
        if rows:
            out += ["| field | type | required | notes |", "|---|---|---|---|", *rows]
        else:
            out.append(f"A {type_of(schema)}.")
        if one_of_required(schema):
            out += ["", one_of_required(schema)]
    return out


def response_text(status: str, r: dict, spec: dict) -> tuple[str, str]:
    """(what it means, its body) of one response of an operation."""
    if "$ref" in r:
        r = spec["components"]["responses"][ref_name(r["$ref"])]
    body = ", ".join(f"{type_of(m.get('schema', {}))} (`{ctype}`)" if ctype != "application/json"
                     else type_of(m.get("schema", {})) for ctype, m in r.get("content", {}).items())
    headers = ", ".join(f"`{h}`" for h in r.get("headers", {}))
    desc = r.get("description", "")
    if headers:
        desc += f" Header {headers}."
    return desc, body or "–"


def render_operation(method: str, path: str, o: dict, spec: dict) -> list[str]:
    out = ["", f'<a id="{o["operationId"]}"></a>', f"#### `{method.upper()} {path}` — {o['summary']}", ""]
    auth = "bearer token (`Authorization: Bearer <access token>`)" if o.get("security") else "none"
    out.append(f"Auth: {auth}.")
    if o.get("description"):
        out += ["", " ".join(o["description"].split())]
    params = o.get("parameters", [])
    if params:
        out += ["", "| parameter | in | type | required | notes |", "|---|---|---|---|---|"]
        for p in params:
            note = notes(p.get("description", ""), p["schema"])
            out.append(f"| `{p['name']}` | {p['in']} | {cell(type_of(p['schema']))} | "
                       f"{'yes' if p.get('required') else 'no'} | {cell(note)} |")
    body = o.get("requestBody")
    if body:
        kinds = " or ".join(f"{type_of(m['schema'])} as `{ctype}`" for ctype, m in body["content"].items())
        out += ["", f"Body ({'required' if body.get('required') else 'optional'}): {kinds}."]
        first = next(iter(body["content"].values()))["schema"]
        if "$ref" in first:
            schema = spec["components"]["schemas"][ref_name(first["$ref"])]
            rows = field_rows(schema, spec)
            if rows:
                out += ["", "| field | type | required | notes |", "|---|---|---|---|", *rows]
            if one_of_required(schema):
                out += ["", one_of_required(schema)]
    out += ["", "| status | meaning | body |", "|---|---|---|"]
    for status, r in o["responses"].items():
        desc, rbody = response_text(status, r, spec)
        out.append(f"| {status} | {cell(desc)} | {cell(rbody)} |")
    return out


def render_routes(spec: dict) -> list[str]:
    ops: dict[str, list] = {t["name"]: [] for t in spec.get("tags", [])}
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                o = item[method]
                tag = (o.get("tags") or ["other"])[0]
                ops.setdefault(tag, []).append((method, path, o))
    descriptions = {t["name"]: t.get("description", "") for t in spec.get("tags", [])}
    out = []
    for tag, rows in ops.items():
        if not rows:
            continue
        out += ["", f"### {tag}", ""]
        if descriptions.get(tag):
            out += [" ".join(descriptions[tag].split()), ""]
        out += [f"* [`{m.upper()} {p}`](#{o['operationId']}) — {o['summary']}" for m, p, o in rows]
        for m, p, o in rows:
            out += render_operation(m, p, o, spec)
    return out


def replace_block(page: str, name: str, lines: list[str]) -> str:
    pattern = re.compile(rf"(<!-- BEGIN {name}:[^\n]*-->\n)(.*?)(<!-- END {name} -->)", re.S)
    if len(pattern.findall(page)) != 1:
        fail(f"{PAGE} must have exactly one <!-- BEGIN {name}: ... --> ... <!-- END {name} --> block")
    return pattern.sub(lambda m: m.group(1) + "\n" + "\n".join(lines).strip("\n") + "\n\n" + m.group(3), page)


def hand_written(page: str) -> str:
    for name in BLOCKS:
        page = re.sub(rf"<!-- BEGIN {name}:.*?<!-- END {name} -->", "", page, flags=re.S)
    return page


def undocumented_frames(page: str, spec: dict) -> list[str]:
    """Frame types of the Ws… schemas that the hand-written WebSocket section does not name."""
    m = re.search(r"^## WebSocket\n(.*?)(?=^## )", hand_written(page), re.S | re.M)
    if not m:
        fail(f"{PAGE} has no `## WebSocket` section")
    section = m.group(1)
    types = [t for n, s in spec["components"]["schemas"].items() if n.startswith("Ws")
             for t in s.get("properties", {}).get("type", {}).get("enum", [])]
    return [t for t in types if f"`{t}`" not in section]


def render(page: str, spec: dict) -> str:
    page = replace_block(page, "routes", render_routes(spec))
    return replace_block(page, "schemas", render_schemas(spec))


def main(argv: list[str]) -> int:
    spec = json.loads(SPEC.read_text())
    page = PAGE.read_text()
    missing = undocumented_frames(page, spec)
    if missing:
        print(f"{PAGE}: the WebSocket section does not describe the frames {missing} of {SPEC}", file=sys.stderr)
        return 1
    text = render(page, spec)
    if "--check" in argv:
        if text != page:
            print(f"{PAGE} is stale against {SPEC}: run /usr/bin/python3 docs/gen_api_md.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text)
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
