"""Settings: the pydantic model in `model` (loaded once, `get_settings()`) and the few variables
read before it can load in `environment` (no pydantic).

`from shared.settings import get_settings, Settings` loads the model on first use of such a
name, not when the package is imported: `shared.settings.environment` is imported at cold start
and must not pull pydantic in with it (docs/ARCHITECTURE.md, "Settings").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.settings.model import (
        DEV_SECRET_KEY,
        PROJECT_ROOT,
        VAR_DIR,
        Settings,
        SettingsError,
        UnsafeSettingsError,
        describe_errors,
        get_settings,
    )

__all__ = ["DEV_SECRET_KEY", "PROJECT_ROOT", "VAR_DIR", "Settings", "SettingsError", "UnsafeSettingsError",
           "describe_errors", "get_settings"]


def __getattr__(name: str) -> Any:
    """The model's public names, imported when first asked for (PEP 562)."""
    if name not in __all__:
        raise AttributeError(f"module 'shared.settings' has no attribute {name!r}")
    from shared.settings import model

    return getattr(model, name)
