"""The web dashboard and the JSON API: ``create_app(settings)`` and ``serve_forever(app, ...)``."""

from scheduler.web.app import create_app, serve_forever
from scheduler.web.config import ConfigError, WebSettings

__all__ = ["ConfigError", "WebSettings", "create_app", "serve_forever"]
