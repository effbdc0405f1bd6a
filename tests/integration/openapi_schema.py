"""A small JSON-schema validator: the subset of JSON Schema 2020-12 that docs/openapi.json uses (no third-party
package). Shared by the OpenAPI test and the type test."""
from __future__ import annotations

import json
import re

import httpx

from conftest import auth_headers


UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# docs/api.md#conventions: RFC 3339 UTC with microseconds and Z
DATE_TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def resolve(root: dict, ref: str):
    assert ref.startswith("#/"), f"only local $refs are supported: {ref}"
    node = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"unresolvable $ref {ref}"
        node = node[part]
    return node


def _type_ok(value, t: str) -> bool:
    if t == "null":
        return value is None
    if t == "boolean":
        return isinstance(value, bool)
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "string":
        return isinstance(value, str)
    if t == "array":
        return isinstance(value, list)
    if t == "object":
        return isinstance(value, dict)
    raise AssertionError(f"unknown JSON-schema type {t!r}")


def _same(a, b) -> bool:
    """JSON equality (True is not 1)."""
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def validate(value, schema, root: dict, where: str = "$") -> list[str]:
    """Every way `value` breaks `schema` (resolving $refs in `root`); empty when it conforms."""
    errs: list[str] = []
    _validate(value, schema, root, where, errs)
    return errs


def _validate(value, schema, root, where, errs) -> None:
    if schema is True:
        return
    if schema is False:
        errs.append(f"{where}: no value is allowed here")
        return
    assert isinstance(schema, dict), f"bad schema at {where}: {schema!r}"
    if "$ref" in schema:
        _validate(value, resolve(root, schema["$ref"]), root, where, errs)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_type_ok(value, t) for t in types):
            errs.append(f"{where}: {json.dumps(value)[:80]} is not of type {types}")
            return
    if "enum" in schema and not any(_same(value, e) for e in schema["enum"]):
        errs.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if "const" in schema and not _same(value, schema["const"]):
        errs.append(f"{where}: {value!r} is not {schema['const']!r}")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errs.append(f"{where}: {value!r} is shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errs.append(f"{where}: string longer than {schema['maxLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errs.append(f"{where}: {value!r} does not match {schema['pattern']}")
        fmt = schema.get("format")
        if fmt == "uuid" and not UUID_RE.match(value):
            errs.append(f"{where}: {value!r} is not a lowercase uuid")
        elif fmt == "date-time" and not DATE_TIME_RE.match(value):
            errs.append(f"{where}: {value!r} is not an RFC 3339 UTC timestamp with microseconds and Z")
        elif fmt == "email" and not EMAIL_RE.match(value):
            errs.append(f"{where}: {value!r} is not an email address")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errs.append(f"{where}: {value} is below the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errs.append(f"{where}: {value} is above the maximum {schema['maximum']}")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errs.append(f"{where}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errs.append(f"{where}: more than {schema['maxItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                _validate(item, schema["items"], root, f"{where}[{i}]", errs)
    if isinstance(value, dict):
        for k in schema.get("required", []):
            if k not in value:
                errs.append(f"{where}: required field {k!r} is missing")
        props = schema.get("properties", {})
        for k, v in value.items():
            if k in props:
                _validate(v, props[k], root, f"{where}.{k}", errs)
            elif "additionalProperties" in schema:
                _validate(v, schema["additionalProperties"], root, f"{where}.{k}", errs)
    for sub in schema.get("allOf", []):
        _validate(value, sub, root, where, errs)
    if "anyOf" in schema:
        results = [validate(value, sub, root, where) for sub in schema["anyOf"]]
        if all(results):
            errs.append(f"{where}: matches none of anyOf: " + " | ".join("; ".join(r) for r in results))
    if "oneOf" in schema:
        results = [validate(value, sub, root, where) for sub in schema["oneOf"]]
        ok = sum(1 for r in results if not r)
        if ok != 1:
            errs.append(f"{where}: matches {ok} of oneOf (exactly one needed)")


class Checker:
    """Sends requests and validates each answer against the document; mismatches are collected."""

    def __init__(self, api: httpx.Client, spec: dict):
        self.api = api
        self.spec = spec
        self.problems: list[str] = []
        self.checked: set[tuple[str, str, int]] = set()

    def _content_schema(self, where: str, resp_obj: dict, r: httpx.Response):
        resp_obj = resolve(self.spec, resp_obj["$ref"]) if "$ref" in resp_obj else resp_obj
        content = resp_obj.get("content")
        if not content:
            if r.content:
                self.problems.append(f"{where}: documented without a body, got {r.text[:200]!r}")
            return None
        ct = r.headers.get("content-type", "").split(";")[0].strip().lower()
        if ct not in content:
            self.problems.append(f"{where}: Content-Type {ct!r} not among the documented {sorted(content)}")
            return None
        return ct, content[ct]["schema"]

    def _validate_body(self, where: str, r: httpx.Response, found) -> None:
        if found is None:
            return
        ct, schema = found
        if ct != "application/json":
            return
        try:
            body = r.json()
        except ValueError:
            self.problems.append(f"{where}: not JSON: {r.text[:200]!r}")
            return
        for e in validate(body, schema, self.spec):
            self.problems.append(f"{where}: {e}")

    def call(self, method: str, template: str, expect: int, *, args: dict | None = None, token: str | None = None,
             headers: dict | None = None, url: str | None = None, **kw) -> httpx.Response:
        """`template` is the documented path; `url` (default: template filled with `args`) is what is sent."""
        url = url or template.format(**(args or {}))
        h = dict(headers or {})
        if token:
            h.update(auth_headers(token))
        r = self.api.request(method, url, headers=h, **kw)
        assert r.status_code == expect, f"{method} {url}: expected {expect}, got {r.status_code}: {r.text[:500]}"
        where = f"{method} {template} -> {r.status_code}"
        op = self.spec["paths"].get(template, {}).get(method.lower())
        if op is None:
            self.problems.append(f"{where}: {method} {template} is not documented")
            return r
        resp_obj = op["responses"].get(str(r.status_code))
        if resp_obj is None:
            self.problems.append(f"{where}: status not documented: {r.text[:200]}")
            return r
        self._validate_body(where, r, self._content_schema(where, resp_obj, r))
        self.checked.add((method, template, r.status_code))
        return r

    def call_component(self, method: str, url: str, expect: int, component: str, **kw) -> httpx.Response:
        """An answer no operation owns (unknown path, wrong method): checked against components.responses."""
        r = self.api.request(method, url, **kw)
        assert r.status_code == expect, f"{method} {url}: expected {expect}, got {r.status_code}: {r.text[:500]}"
        where = f"{method} {url} -> {r.status_code} ({component})"
        resp_obj = self.spec["components"]["responses"][component]
        self._validate_body(where, r, self._content_schema(where, resp_obj, r))
        return r

    def done(self) -> None:
        assert not self.problems, "real answers that do not match the document:\n  " + "\n  ".join(self.problems)
