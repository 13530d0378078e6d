"""`factoria dev`: every function behind one port, with a merged OpenAPI document."""

from cli.dev import create_dev_app, load_apps


def test_dev_app_routes_each_path_to_its_function(db):
    client = create_dev_app().test_client()
    assert client.get("/livez").get_json() == {"status": "pass"}
    assert client.get("/health").headers["Content-Type"] == "application/health+json"
    missing = client.get("/no/such/path")
    assert missing.status_code == 404 and missing.headers["Content-Type"] == "application/problem+json"
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    for name, app in load_apps().items():
        for route in app.routes:
            path = route.rule.replace("<", "{").replace(">", "}")
            path = path.split("{")[0] if "{" in path else path
            assert any(p.startswith(path) for p in doc["paths"]), (name, route.rule)
