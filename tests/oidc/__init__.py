"""A real OpenID Connect provider for the single sign-on tests: the npm
package ``oidc-provider`` run by ``provider.mjs`` on a free loopback port."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def available() -> str | None:
    """Why the provider cannot run here, or None."""
    if not shutil.which("node"):
        return "no node on PATH"
    if not (ROOT / "node_modules" / "oidc-provider").exists():
        return "oidc-provider is not installed: run npm ci"
    return None


@contextmanager
def running_provider(*, client: dict, accounts: dict) -> Iterator[str]:
    """Starts the provider; yields its issuer URL, stops it afterwards."""
    port = _free_port()
    env = {**os.environ, "OIDC_TEST_CONFIG": json.dumps({"client": client, "accounts": accounts})}
    process = subprocess.Popen(  # noqa: S603 - our own script
        ["node", str(HERE / "provider.mjs"), str(port)],  # noqa: S607
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the OpenID provider stopped: {process.stderr.read()}")
            try:
                if requests.get(f"{issuer}/.well-known/openid-configuration", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the OpenID provider did not start within 20 s")
            time.sleep(0.1)
        yield issuer
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
