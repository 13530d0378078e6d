"""`python -m cli.openapi_export`: write each function's OpenAPI document to docs/openapi/."""

from __future__ import annotations

import json
from pathlib import Path

from shared.settings import PROJECT_ROOT

OUT_DIR = PROJECT_ROOT / "docs" / "openapi"


def render(document: dict) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def main() -> None:
    from cli.dev import load_apps

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, app in load_apps().items():
        path = Path(OUT_DIR / f"{name}.json")
        path.write_text(render(app.openapi_document()))
        print(f"wrote {path.relative_to(PROJECT_ROOT)}")


if __name__ == "__main__":
    main()
