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


def test_dev_server_series_name_real_functions(db):
    from prometheus_client.parser import text_string_to_metric_families

    from shared.metrics import recorder
    from tests.conftest import auth, make_user

    _, key = make_user("user")
    _, ops_key = make_user("ops")
    client = create_dev_app().test_client()
    assert client.get("/v1/content-types", headers=auth(key)).status_code == 200
    assert client.get("/v1/me", headers=auth(key)).status_code == 200
    assert client.get("/v1/jobs", headers=auth(ops_key)).status_code == 200
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/no/such/path").status_code == 404
    recorder.flush()
    text = client.get("/metrics", headers=auth(ops_key)).get_data(as_text=True)
    routes = {(s.labels["function"], s.labels["http_route"])
              for f in text_string_to_metric_families(text) if f.name == "http_server_request_duration_seconds"
              for s in f.samples if s.name.endswith("_count")}
    assert routes == {("generate", "/v1/content-types"), ("gdpr", "/v1/me"), ("health", "/v1/jobs")}
