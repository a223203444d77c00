"""Runtime settings of the control loop: the environment (``ENERGIEMODELL_*``), CLI flags win.

Deployment values (database URL, bind address, devices file) and the loop's safety limits live
here, not in the site file: the site describes the plant, these describe one installation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveFloat, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings of ``energiemodell run`` and the control loop, from ``ENERGIEMODELL_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="ENERGIEMODELL_", extra="forbid", frozen=True)

    db_url: str | None = Field(
        default=None, description="Store database URL (SQLite file or PostgreSQL)"
    )
    mode: Literal["shadow", "review", "auto"] | None = Field(
        default=None, description="Overrides the site's control.mode (default: the site's)"
    )
    devices_file: Path | None = Field(
        default=None, description="YAML list of device bindings replacing the site's devices"
    )
    host: str = Field(default="127.0.0.1", description="Dashboard bind address (run --host)")
    port: int = Field(default=8080, ge=1, le=65535, description="Dashboard port (run --port)")
    horizon_h: PositiveFloat | None = Field(
        default=None, description="Planning horizon (default: the site's control.horizon_h)"
    )
    stale_limit_s: PositiveFloat = Field(
        default=300.0,
        description="A measurement older than this is stale: the loop releases to local control",
    )
    heartbeat_s: PositiveFloat = Field(default=5.0, description="Heartbeat period (s)")
    last_plan_max_age_h: PositiveFloat = Field(
        default=6.0,
        description="The last valid plan is used for at most this long after it was made",
    )
    confirm_timeout_s: PositiveFloat = Field(
        default=10.0, description="How long a device may take to report remote control"
    )
    misfire_grace_s: PositiveFloat = Field(
        default=120.0, description="A cycle job that starts this late still runs (apscheduler)"
    )
    tank_temps_c: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {"heat": (60.0, 90.0), "cooling": (12.0, 6.0)},
        description="Carrier -> (empty, full) temperature of the stores' layer sensors (degC)",
    )
    standby_quantities: tuple[str, ...] = Field(
        default=("site.standby", "grid.outage"),
        description="Measured quantities that, when non-zero, make the optimiser stand down",
    )

    alarm_smtp_host: str | None = Field(
        default=None, description="SMTP relay for alarm e-mails (none: no e-mail)"
    )
    alarm_smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP relay port")
    alarm_email_from: str = Field(
        default="energiemodell@localhost", description="Sender address of alarm e-mails"
    )
    alarm_email_to: tuple[str, ...] = Field(
        default=(), description='Alarm e-mail recipients (JSON list: ["a@x.de", "b@x.de"])'
    )
    alarm_webhook_url: str | None = Field(
        default=None, description="URL that receives alarms as a JSON POST (none: no webhook)"
    )
    alarm_min_severity: Literal["info", "warning", "critical"] = Field(
        default="warning", description="Alarms at or above this severity reach people"
    )

    @field_validator("host")
    @classmethod
    def _no_wildcard_default(cls, v: str) -> str:
        if not v.strip():
            msg = "host must not be empty"
            raise ValueError(msg)
        return v
