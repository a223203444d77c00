"""The web dashboard and the JSON API: ``create_app(settings)`` and ``serve_forever(app, ...)``."""

from scheduler.web.app import BackgroundServer, create_app, serve_forever
from scheduler.web.config import ConfigError, WebSettings

__all__ = ["BackgroundServer", "ConfigError", "WebSettings", "create_app", "serve_forever"]
