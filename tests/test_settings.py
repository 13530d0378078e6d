import pytest

from shared.settings import DEV_SECRET_KEY, Settings, UnsafeSettingsError

SAFE_PROD = dict(
    environment="production",
    secret_key="s" * 40,
    database_url="postgresql://u:p@db:5432/app",
    allowed_origins="https://app.lafactoria.dev",
    ai_providers="openai,anthropic",
    openai_api_key="sk-test-not-real",
    anthropic_api_key="sk-ant-test-not-real",
)


def test_defaults_run_embedded():
    s = Settings(_env_file=None)
    assert s.is_sqlite and s.providers == ["mock"] and s.db_pool_size == 5
    assert s.backup_url.startswith("file://") and s.max_body_bytes == 65536


def test_postgres_urls_mapped_to_psycopg3():
    assert Settings(database_url="postgres://u:p@h/db").database_url == "postgresql+psycopg://u:p@h/db"
    assert Settings(database_url="postgresql://u@h/db").database_url == "postgresql+psycopg://u@h/db"


def test_safe_production_accepted():
    assert Settings(**SAFE_PROD).is_production


@pytest.mark.parametrize(
    "override, message",
    [
        ({"secret_key": DEV_SECRET_KEY}, "SECRET_KEY"),
        ({"database_url": "sqlite:///x.db"}, "SQLite"),
        ({"allowed_origins": "*"}, "ALLOWED_ORIGINS"),
        ({"ai_providers": "openai,mock"}, "mock"),
    ],
)
def test_production_refuses_unsafe_values(override, message):
    with pytest.raises(UnsafeSettingsError, match=message):
        Settings(**(SAFE_PROD | override))


def test_unknown_provider_and_log_level_rejected():
    with pytest.raises(ValueError, match="unknown providers"):
        Settings(ai_providers="openai,skynet")
    with pytest.raises(ValueError):
        Settings(log_level="loud")
    assert Settings(log_level="WARNING").log_level == "warning"


def test_env_example_lists_every_setting():
    from pathlib import Path

    text = (Path(__file__).parent.parent / ".env.example").read_text()
    names = {line.split("=", 1)[0].lstrip("# ").strip() for line in text.splitlines() if "=" in line}
    missing = [f.upper() for f in Settings.model_fields if f.upper() not in names]
    assert not missing, f".env.example lacks {missing}"


def test_function_refuses_to_start_in_production_with_unsafe_settings(monkeypatch):
    import importlib.util

    from tests.conftest import ROOT, reset_process_state

    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("AI_PROVIDERS", "mock")
    reset_process_state()
    spec = importlib.util.spec_from_file_location("health_main_prod", ROOT / "functions/health/main.py")
    module = importlib.util.module_from_spec(spec)
    with pytest.raises(UnsafeSettingsError, match="SQLite.*mock"):
        spec.loader.exec_module(module)


@pytest.mark.parametrize("override, message", [
    ({"ai_providers": "openai,vertex"}, "without credentials: vertex \\(GOOGLE_API_KEY"),
    ({"openai_api_key": None}, "OPENAI_API_KEY missing"),
])
def test_production_generate_refuses_a_provider_without_credentials(override, message):
    settings = Settings(**(SAFE_PROD | override))  # health, gdpr and jobs hold no keys: they start
    with pytest.raises(UnsafeSettingsError, match=message):
        settings.require_provider_credentials()
    Settings(**SAFE_PROD).require_provider_credentials()


def test_generate_refuses_to_start_in_production_without_provider_keys(monkeypatch):
    import importlib.util

    from tests.conftest import ROOT, reset_process_state

    for key, value in (SAFE_PROD | {"ai_providers": "openai"}).items():
        monkeypatch.setenv(key.upper(), value)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    reset_process_state()
    spec = importlib.util.spec_from_file_location("generate_main_prod", ROOT / "functions/generate/main.py")
    with pytest.raises(UnsafeSettingsError, match="OPENAI_API_KEY missing"):
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


def test_an_empty_optional_setting_is_unset_and_an_empty_required_one_is_refused(monkeypatch):
    """Railway passes an unset shared variable as "" (docs/OPERATIONS.md, "Variables")."""
    from shared.settings import SettingsError, get_settings

    for name in ("USER_DAILY_BUDGET_USD", "DAILY_BUDGET_USD", "MONTHLY_BUDGET_USD", "ALERT_WEBHOOK_URL",
                 "OPENAI_API_KEY"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("DAILY_BUDGET_USD", "  ")
    get_settings.cache_clear()
    s = get_settings()
    assert s.user_daily_budget_usd is None and s.daily_budget_usd is None and s.monthly_budget_usd is None
    assert s.alert_webhook_url is None and s.openai_api_key is None
    monkeypatch.setenv("USER_DAILY_BUDGET_USD", "2.5")
    get_settings.cache_clear()
    assert str(get_settings().user_daily_budget_usd) == "2.5"
    for name in ("ENVIRONMENT", "DB_POOL_SIZE"):  # defaulted: an empty value is a mistake, never the default
        monkeypatch.setenv(name, "")
        get_settings.cache_clear()
        with pytest.raises(SettingsError, match=name):
            get_settings()
        monkeypatch.delenv(name)
    get_settings.cache_clear()
