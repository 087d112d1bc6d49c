"""``anbao login`` as a person does it: the command runs as a subprocess, Chromium signs in.

Shared by the CLI login tests and journey 2. The command prints one line a script can parse
(``Open <url> and confirm the code <CODE>`` for the device flow, ``Open <url> in a browser on
this machine`` for ``--browser --no-open``); the browser then goes there and answers Keycloak's
pages like a person.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser

from tests.journeys.browser import KeycloakPages, Person

ANBAO = Path(sys.executable).with_name("anbao")  # the venv's console script
DEVICE_LINE = re.compile(r"^Open (\S+) and confirm the code (\S+)$")
BROWSER_LINE = re.compile(r"^Open (\S+) in a browser on this machine$")


def anbao(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ANBAO), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def start_login(env: dict[str, str], *args: str) -> tuple[subprocess.Popen[str], re.Match[str]]:
    """``anbao login ARGS`` running, and the parsed line it printed first."""
    proc = subprocess.Popen(
        [str(ANBAO), "login", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().rstrip("\n")
    found = (DEVICE_LINE if "--device" in args else BROWSER_LINE).match(line)
    if found is None:
        proc.kill()
        _, err = proc.communicate(timeout=30)
        raise AssertionError(f"anbao login printed {line!r}; stderr: {err}")
    return proc, found


def finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out


def device_login(
    env: dict[str, str], browser: Browser, person: Person, *, new_password: str | None = None
) -> str:
    """The device flow end to end; returns what ``anbao login`` printed last."""
    proc, line = start_login(env, "--device")
    uri, code = line.group(1), line.group(2)
    assert code in uri  # verification_uri_complete: the code is filled in for the person
    page = browser.new_page()
    try:
        page.goto(uri)
        keycloak = KeycloakPages(page)
        keycloak.sign_in(person, new_password=new_password)
        keycloak.grant_access()
        return finish(proc)
    finally:
        page.close()


def credentials(env: dict[str, str]) -> Path:
    return Path(env["ANBAO_CONFIG_DIR"]) / "credentials.json"


def stored(env: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(credentials(env).read_text())
    return data


def whoami(env: dict[str, str]) -> dict[str, Any]:
    done = anbao(env, "whoami")
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer
