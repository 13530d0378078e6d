"""The gdpr function's OpenAPI document is served, committed, and matches the routes."""

import json

from cli.openapi_export import OUT_DIR, render


def test_served_document_matches_committed_copy(client_for):
    served = client_for("gdpr").get("/openapi.json")
    assert served.status_code == 200
    doc = served.get_json()
    assert render(doc) == (OUT_DIR / "gdpr.json").read_text()
    paths = doc["paths"]
    assert set(paths["/v1/me"]) == {"get", "patch", "delete"}
    assert set(paths["/v1/users/{user_id}/restriction"]) == {"post", "delete"}
    assert "403" in paths["/v1/users/{user_id}/export"]["get"]["responses"]
    assert "403" not in paths["/v1/me/export"]["get"]["responses"]
    ids = [op["operationId"] for ops in paths.values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    confirm = doc["components"]["schemas"]["ErasureConfirmation"]["properties"]["confirm"]
    assert json.dumps(confirm).count("erase my data") == 1
