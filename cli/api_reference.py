"""docs/API.md: the HTTP API reference, generated from the OpenAPI documents (`make openapi`).

`make openapi` writes it after the documents; a test keeps it equal to them,
so the reference a user reads is exactly what the code serves. The page
opens with the rules every endpoint follows (auth, errors, headers, limits),
stated once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RULES = """\
## Rules every endpoint follows

- **JSON in and out.** Errors are RFC 9457 `application/problem+json`:
  `{"type", "title", "status", "detail"}`; every 422 also lists each invalid field in
  `"errors": [{"field", "message"}]`. Never a stack trace.
- **Auth.** `Authorization: Bearer <api key>`. Missing or bad key: 401 with
  `WWW-Authenticate: Bearer`. Right key, wrong role: 403. Another user's object: 404
  (existence is not revealed). Roles: `user` (own data), `admin` (any user's data, GDPR on
  behalf of users), `ops` (metrics, alerts and jobs; no user content).
- **Status codes.** Malformed JSON 400; unknown fields or bad values 422 (text fields refuse
  control characters and invisible format characters, and count lengths in visible
  characters); body over `MAX_BODY_BYTES` 413; unknown path 404 (a trailing or doubled slash
  is an unknown path); wrong method 405 with `Allow`; conflict (duplicate email, the same
  `Idempotency-Key` still in flight) 409, in flight with `Retry-After`; gone 410 (the caller
  was erased while their request ran, so nothing was stored; or the item an `Idempotency-Key`
  created was deleted, so its replay never returns it); rate or quota exceeded 429 with
  `Retry-After` in seconds; no provider could serve, or the database is unavailable, 503
  with `Retry-After`. A budget refusal says which it is: `"reason": "budget_spent"` (the
  cap's period must reset; `Retry-After` until then) or `"reason": "budget_in_flight"`
  (calls still in flight hold the rest of the cap; `Retry-After` of at most 60 s).
- **Identifiers** are UUIDs; an uppercase UUID addresses the same object as its lowercase form.
- **Headers.** Every response carries `X-Request-ID` (yours when you send a safe one), the
  security headers (HSTS, `nosniff`, `X-Frame-Options: DENY`, a restrictive CSP) and, for
  allowed origins (`ALLOWED_ORIGINS`), CORS headers; a preflight `OPTIONS` needs no key.
  Browser code can read `X-Request-ID`, `Retry-After`, `Idempotent-Replayed`,
  `Content-Disposition` and `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`.
- **Compression.** Responses over 1 KiB are gzip-compressed when the request says
  `Accept-Encoding: gzip`.
- **Rate limits.** `RATE_LIMIT_PER_MINUTE` requests per key per minute and function,
  `GENERATIONS_PER_DAY` generations per user per day; the `RateLimit-*` headers say where
  you stand.
- **Each function** serves its own OpenAPI 3.1 document at `GET /openapi.json` (no key);
  `factoria dev` serves all three behind one port with the merged document. Ids are
  `format: uuid`, times `format: date-time`, and every error body is a named component
  (`Problem`, `ValidationProblem`), so a generated client types them; the suite generates one
  with `openapi-python-client` from each document (zero warnings) and calls the functions with it.
"""


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type(schema: dict[str, Any]) -> str:
    """A short human type for a JSON Schema: `string`, `integer 1..100`, `Item`, `[string]`, `A | null`."""
    if not schema:
        return "any"
    if "$ref" in schema:
        return f"[{_ref_name(schema['$ref'])}](#{_ref_name(schema['$ref']).lower()})"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " \\| ".join(_type(s) for s in schema[key])
    if "allOf" in schema:
        return " & ".join(_type(s) for s in schema["allOf"])
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        return " \\| ".join(kind)
    if kind == "array":
        text = f"[{_type(schema.get('items', {}))}]"
        if "minItems" in schema or "maxItems" in schema:
            text += f" {schema.get('minItems', 0)}..{schema.get('maxItems', '')}"
        return text
    bounds = ""
    if kind == "string" and ("minLength" in schema or "maxLength" in schema):
        bounds = f" {schema.get('minLength', 0)}..{schema.get('maxLength', '')} chars"
    elif kind in ("integer", "number") and any(k in schema for k in ("minimum", "maximum")):
        bounds = f" {schema.get('minimum', '')}..{schema.get('maximum', '')}"
    if kind == "object" and "additionalProperties" in schema and isinstance(schema["additionalProperties"], dict):
        return f"{{string: {_type(schema['additionalProperties'])}}}"
    fmt = f" ({schema['format']})" if "format" in schema else ""
    return f"{kind}{bounds}{fmt}"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _operation(method: str, path: str, op: dict[str, Any]) -> list[str]:
    out = [f"### `{method.upper()} {path}`", ""]
    if op.get("summary"):
        out += [op["summary"], ""]
    if op.get("description"):
        out += [" ".join(op["description"].split()), ""]
    security = op.get("security")
    out.append("Authentication: " + ("none." if security == [] else "bearer API key."))
    roles = op.get("x-roles")
    if roles:
        out[-1] += " Roles: " + ", ".join(f"`{r}`" for r in roles) + "."
    out.append("")
    params = op.get("parameters", [])
    if params:
        out += ["| parameter | in | type | required | description |", "|---|---|---|---|---|"]
        out += [f"| `{p['name']}` | {p['in']} | {_type(p.get('schema', {}))} | {'yes' if p.get('required') else 'no'} "
                f"| {_cell(p.get('description') or p.get('schema', {}).get('description', ''))} |" for p in params]
        out.append("")
    body = op.get("requestBody")
    if body:
        for mime, media in body.get("content", {}).items():
            out += [f"Request body (`{mime}`): {_type(media.get('schema', {}))}", ""]
    out += ["| status | meaning | body |", "|---|---|---|"]
    for status, resp in sorted(op.get("responses", {}).items()):
        content = resp.get("content", {})
        body_type = "; ".join(f"{_type(m.get('schema', {}))} (`{mime}`)" for mime, m in content.items()) or "-"
        out.append(f"| {status} | {_cell(resp.get('description', ''))} | {body_type} |")
    out.append("")
    return out


def _schema(name: str, schema: dict[str, Any]) -> list[str]:
    out = [f"#### {name}", ""]
    if schema.get("description"):
        out += [" ".join(schema["description"].split()), ""]
    parts = schema.get("allOf", [])
    bases = [_type(part) for part in parts if "$ref" in part]
    if bases:  # an extension (ValidationProblem is a Problem): its bases, then what it adds
        out += ["Every field of " + ", ".join(bases) + ", and:", ""]
        inline = [part for part in parts if "$ref" not in part]
        schema = {"properties": {k: v for part in inline for k, v in part.get("properties", {}).items()},
                  "required": [r for part in inline for r in part.get("required", [])]}
    props = schema.get("properties")
    if props:
        required = set(schema.get("required", []))
        out += ["| field | type | required | description |", "|---|---|---|---|"]
        for field, sub in props.items():
            desc = sub.get("description", "")
            if "default" in sub:
                desc = (desc + f" Default `{json.dumps(sub['default'])}`.").strip()
            out.append(f"| `{field}` | {_type(sub)} | {'yes' if field in required else 'no'} | {_cell(desc)} |")
        out.append("")
    elif schema:
        out += [f"Type: {_type(schema)}", ""]
    return out


def render(documents: dict[str, dict[str, Any]]) -> str:
    """The whole reference page for `{function name: OpenAPI document}`."""
    out = ["# HTTP API reference", "",
           "Generated from the OpenAPI 3.1 documents in `docs/openapi/` by `make openapi`; do not edit by hand.",
           "", RULES]
    for name, doc in documents.items():
        info = doc.get("info", {})
        out += [f"## {name}", "", f"{info.get('title', name)} {info.get('version', '')}. "
                f"Served locally with `functions-framework --source functions/{name}/main.py --target {name}`.", ""]
        if info.get("description"):
            out += [" ".join(info["description"].split()), ""]
        for path, item in doc.get("paths", {}).items():
            for method, op in item.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    out += _operation(method, path, op)
        schemas = doc.get("components", {}).get("schemas", {})
        if schemas:
            out += [f"### {name} schemas", ""]
            for schema_name, schema in schemas.items():
                out += _schema(schema_name, schema)
    return "\n".join(out).rstrip() + "\n"


API_MD = "API.md"


def write(documents: dict[str, dict[str, Any]], docs_dir: Path) -> str:
    """Write docs/API.md for `documents`; returns its path relative to docs_dir's parent."""
    path = docs_dir / API_MD
    path.write_text(render(documents))
    return str(path.relative_to(docs_dir.parent))
