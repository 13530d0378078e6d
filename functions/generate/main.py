"""Generate function: `functions-framework --source functions/generate/main.py --target generate`.

The entry point, and the one module of the function that does work at import: it
builds the app from the startup settings, so in production an unsafe setting stops
the process here with one clear error (UnsafeSettingsError). Content generation; the routes are in `app.py`.
"""

import functions_framework

from functions.generate.app import create_app
from shared.http import startup_settings

app = create_app(startup_settings())
app.adopt_host_app()  # functions-framework imports this inside its Flask app: its own error pages become ours


@functions_framework.http
def generate(request):
    return app(request)
