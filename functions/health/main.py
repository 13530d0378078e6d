"""Health function: `functions-framework --source functions/health/main.py --target health`.

The entry point, and the one module of the function that does work at import: it
builds the app from the startup settings, so in production an unsafe setting stops
the process here with one clear error (UnsafeSettingsError). Health, metrics, alerts and the ops console; the routes are in `app.py`.
"""

import functions_framework

from functions.health.app import create_app
from shared.http import startup_settings

app = create_app(startup_settings())
app.adopt_host_app()  # functions-framework imports this inside its Flask app: its own error pages become ours


@functions_framework.http
def health(request):
    return app(request)
