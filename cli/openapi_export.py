"""`python -m cli.openapi_export`: write each function's OpenAPI document to docs/openapi/,
and the HTTP API reference generated from them to docs/API.md."""

from __future__ import annotations

import json
from pathlib import Path

from shared.settings import PROJECT_ROOT

OUT_DIR = PROJECT_ROOT / "docs" / "openapi"


def render(document: dict) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def main() -> None:
    from cli.dev import load_apps

    from cli import api_reference

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    documents = {}
    for name, app in load_apps().items():
        path = Path(OUT_DIR / f"{name}.json")
        text = render(app.openapi_document())
        path.write_text(text)
        documents[name] = json.loads(text)
        print(f"wrote {path.relative_to(PROJECT_ROOT)}")
    print(f"wrote {api_reference.write(documents, OUT_DIR.parent)}")


if __name__ == "__main__":
    main()
