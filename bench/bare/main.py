"""The baseline: a bare functions-framework function doing nothing."""

import functions_framework


@functions_framework.http
def bare(request):
    return {"status": "pass"}
