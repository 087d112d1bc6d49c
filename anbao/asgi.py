"""ASGI entry point for uvicorn workers: settings from the environment, logs as JSON."""

from __future__ import annotations

import os

from anbao import logs
from anbao.app import create_app
from anbao.settings import Settings

settings = Settings.load(os.environ)
logs.configure(settings.server.log_level)
app = create_app(settings)
