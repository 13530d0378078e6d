"""The LiteLLM proxy, run as `bench capacity`'s peer: what many teams put in front of their providers.

LiteLLM pins its own SDKs (openai, httpx, pydantic, ...), which clash with the
versions this project pins, so it never goes into the project's virtualenv: the
full run creates `var/litellm-venv` on first use (`python -m venv`, then
`pip install 'litellm[proxy]==LITELLM_VERSION'`) and reuses it while its marker
names the same version. The proxy runs as its own documentation deploys it:
`litellm --config FILE --num_workers 1`, one model routed to the same local
OpenAI-format provider as generate, a master key set (every call authenticated).

Offline start: LiteLLM fetches its model price map from the internet at import
unless `LITELLM_LOCAL_MODEL_COST_MAP=True`; telemetry is off; the proxy gets a
clean environment (no DATABASE_URL, so it does not try to run its own database
migrations against ours).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from bench.common import ROOT, free_port

# [proxy] installs from PyPI alone (1.110.2's needs a litellm-proxy package PyPI does not serve); and it
# predates 1.107.0, the release reported compromised.
LITELLM_VERSION = "1.106.12"
VENV = ROOT / "var" / "litellm-venv"
MASTER_KEY = "sk-bench-litellm-master"
MODEL = "gpt-4o-mini"


class Unavailable(Exception):
    """The peer could not be installed or started; the message says why in one line."""


def ensure_venv() -> Path:
    """`var/litellm-venv` with litellm[proxy]==LITELLM_VERSION; returns its `litellm` program."""
    program = VENV / "bin" / "litellm"
    marker = VENV / ".litellm-version"
    if program.exists() and marker.exists() and marker.read_text().strip() == LITELLM_VERSION:
        return program
    print(f"  creating {VENV.relative_to(ROOT)} with litellm[proxy]=={LITELLM_VERSION} (first run only; ~1 min)")
    sys.stdout.flush()
    steps = ([sys.executable, "-m", "venv", "--clear", str(VENV)],
             [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
              f"litellm[proxy]=={LITELLM_VERSION}"])
    for step in steps:
        proc = subprocess.run(step, capture_output=True, text=True, timeout=900, check=False)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise Unavailable(f"`{' '.join(step[-2:])}` failed: {last}")
    marker.write_text(LITELLM_VERSION + "\n")
    return program


def _config(provider_url: str) -> str:
    return (
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: openai/{MODEL}\n"
        f"      api_base: {provider_url}/v1\n"
        "      api_key: sk-bench-not-real\n"
        "general_settings:\n"
        f"  master_key: {MASTER_KEY}\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
    )


@contextmanager
def litellm_proxy(provider_url: str):
    """The proxy on a local port, routed to `provider_url`; yields (port, pid)."""
    program = ensure_venv()
    port = free_port()
    env = {"PATH": f"{VENV / 'bin'}:/usr/bin:/bin", "LITELLM_LOCAL_MODEL_COST_MAP": "True",
           "LITELLM_TELEMETRY": "False", "LITELLM_LOG": "ERROR", "LANG": "C.UTF-8"}
    with tempfile.TemporaryDirectory() as home:
        env["HOME"] = home
        config = Path(home) / "config.yaml"
        config.write_text(_config(provider_url))
        log_path = Path(home) / "proxy.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen([str(program), "--config", str(config), "--host", "127.0.0.1", "--port",
                                     str(port), "--num_workers", "1"], cwd=home, env=env, stdout=log,
                                    stderr=subprocess.STDOUT)
        try:
            from bench.bench_capacity import request

            deadline = time.monotonic() + 120
            while True:
                try:
                    if request(port, "GET", "/health/liveliness", timeout=5)[0] == 200:
                        break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
                    raise Unavailable(f"the proxy did not start: {' | '.join(tail) or 'no output'}")
                time.sleep(0.3)
            yield port, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def chat_body(tag: str, i: int) -> bytes:
    """An OpenAI chat request of the shape generate sends: a system prompt, the request, a JSON schema."""
    import json

    from functions.generate import content_types

    return json.dumps({
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You write accurate, well-structured educational content for the "
                                          "audience given. Answer with one JSON document that matches the schema."},
            {"role": "user", "content": f"Write flashcards for a high school audience on: Photosynthesis {tag} {i}"},
        ],
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "flashcards", "strict": True, "schema": content_types.json_schema("flashcards")}},
        "max_tokens": 4000,
    }).encode()


def headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {MASTER_KEY}", "Content-Type": "application/json"}


def tree_rss_kib(pid: int) -> int:
    """Resident memory of `pid` and its children (the proxy may run uvicorn in a child)."""
    from bench.bench_capacity import rss_kib

    total = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            total += rss_kib(p)
            for task in os.listdir(f"/proc/{p}/task"):
                stack += [int(c) for c in Path(f"/proc/{p}/task/{task}/children").read_text().split()]
        except OSError:
            continue
    return total
