"""Settings of the dashboard and the JSON API (``ENERGIEMODELL_WEB_*``; CLI flags win).

The service refuses to start with the default secret outside the demo: a session cookie signed
with a known key can be forged by anyone on the hospital network.
"""

from __future__ import annotations

import secrets
from ipaddress import IPv4Network, IPv6Network
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "change-me"  # noqa: S105 - the value the service refuses outside the demo
MIN_SECRET_LENGTH = 32


class ConfigError(ValueError):
    """The web settings are unusable (a default secret outside the demo, ...)."""


class WebSettings(BaseSettings):
    """What one dashboard installation needs to know, from ``ENERGIEMODELL_WEB_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="ENERGIEMODELL_WEB_", extra="forbid", frozen=True)

    db_url: str | None = Field(
        default=None, description="Store URL (default: $ENERGIEMODELL_DB_URL, else the SQLite file)"
    )
    secret_key: str = Field(
        default=DEFAULT_SECRET,
        description="Signs session cookies: at least 32 random characters (refused: the default)",
    )
    demo: bool = Field(
        default=False, description="Demo: a random secret per start is accepted, cookies over HTTP"
    )
    cookie_secure: bool = Field(
        default=True, description="Send the session cookie over HTTPS only (behind the TLS proxy)"
    )
    session_max_age_s: int = Field(default=8 * 3600, ge=60, description="Session lifetime (s)")
    readonly_networks: tuple[IPv4Network | IPv6Network, ...] = Field(
        default=(),
        description="Clients in these networks read without logging in (viewer rights)",
    )
    site: str | None = Field(
        default=None,
        description="Site file or shipped name: needed for the trial plan of overrides",
    )
    timezone: str = Field(default="Europe/Berlin", description="Local time of the pages")
    default_language: str = Field(default="de", pattern="^(de|en)$")
    root_path: str = Field(default="", description="Path prefix when proxied under a sub-path")

    @model_validator(mode="after")
    def _secret(self) -> Self:
        if self.demo and self.secret_key == DEFAULT_SECRET:
            object.__setattr__(self, "secret_key", secrets.token_urlsafe(32))
        return self

    def check(self) -> None:
        """Refuse settings that must not go into service.

        Raises
        ------
        ConfigError
            The default or a short secret outside the demo.
        """
        if self.demo:
            return
        if self.secret_key == DEFAULT_SECRET:
            msg = (
                "refusing to start with the default secret: set ENERGIEMODELL_WEB_SECRET_KEY "
                f"to at least {MIN_SECRET_LENGTH} random characters "
                '(python -c "import secrets; print(secrets.token_urlsafe(32))")'
            )
            raise ConfigError(msg)
        if len(self.secret_key) < MIN_SECRET_LENGTH:
            msg = f"ENERGIEMODELL_WEB_SECRET_KEY is shorter than {MIN_SECRET_LENGTH} characters"
            raise ConfigError(msg)
