"""The Schedule: the plan per interval, its costs, penalties, KPIs and how it was made."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class Schedule:
    """A plan over a horizon.

    ``frame`` has one row per interval (UTC index, interval start) and ``asset.quantity``
    columns (``chp1.p_el_kw``, ``tes1.level_kwh``), ``demand.<carrier>_kw``,
    ``unserved.<carrier>_kw``, ``surplus.<carrier>_kw`` and marginal prices
    ``price.<carrier>_eur_per_mwh``. ``costs`` are money by category (EUR, revenues negative),
    summing to :attr:`cost_eur`; ``penalties`` are soft-constraint prices paid (EUR-equivalent).
    """

    frame: pd.DataFrame
    costs: dict[str, float]
    costs_by_asset: dict[str, dict[str, float]]
    penalties: dict[str, float]
    kpis: dict[str, float]
    status: str
    mip_gap: float | None
    origin: str
    site_hash: str
    created_at: datetime
    timings: dict[str, float] = field(default_factory=dict)
    alarms: list[str] = field(default_factory=list)
    objective_eur: float | None = None
    constants_eur: float = 0.0
    co2_t: float = 0.0
    co2_weighted_eur: float = 0.0
    model_size: dict[str, int] = field(default_factory=dict)
    explanations: dict[str, list[str]] = field(default_factory=dict)

    @property
    def cost_eur(self) -> float:
        """Money cost of the plan (EUR)."""
        return float(sum(self.costs.values()))

    @property
    def penalty_eur(self) -> float:
        """Penalties paid by the plan (EUR-equivalent)."""
        return float(sum(self.penalties.values()))

    @property
    def unserved_kwh(self) -> float:
        """Energy not served over the horizon (kWh).

        Every carrier (critical energy counted once) and the window energy flexible loads did not
        get (``<load>.unserved_kw``).
        """
        cols = [
            c
            for c in self.frame.columns
            if (c.startswith("unserved.") and not c.endswith("_critical_kw"))
            or c.endswith(".unserved_kw")
        ]
        dt_h = self.step_h
        return float(self.frame[cols].to_numpy().sum() * dt_h) if cols else 0.0

    @property
    def step_h(self) -> float:
        """Interval length (h)."""
        if len(self.frame.index) < 2:
            return 0.25
        return float((self.frame.index[1] - self.frame.index[0]).total_seconds() / 3600)

    def row_at(self, ts: datetime | pd.Timestamp) -> pd.Series:
        """The row of the interval containing ``ts``."""
        stamp = pd.Timestamp(ts).tz_convert("UTC")
        pos = self.frame.index.searchsorted(stamp, side="right") - 1
        if pos < 0 or stamp >= self.frame.index[-1] + pd.Timedelta(hours=self.step_h):
            msg = f"{stamp.isoformat()} is outside the schedule"
            raise KeyError(msg)
        return self.frame.iloc[pos]

    def summary(self) -> dict[str, Any]:
        """The JSON summary (the contract of ``optimise --json``)."""
        t = self.timings
        return {
            "status": self.status,
            "origin": self.origin,
            "start": self.frame.index[0].isoformat() if len(self.frame) else None,
            "intervals": len(self.frame),
            "cost_eur": round(self.cost_eur, 4),
            "costs": {k: round(v, 4) for k, v in sorted(self.costs.items())},
            "penalty_eur": round(self.penalty_eur, 4),
            "penalties": {k: round(v, 4) for k, v in sorted(self.penalties.items()) if v},
            "co2_t": round(self.co2_t, 6),
            "co2_weighted_eur": round(self.co2_weighted_eur, 4),
            "objective_eur": None if self.objective_eur is None else round(self.objective_eur, 4),
            "constants_eur": round(self.constants_eur, 4),
            "mip_gap": self.mip_gap,
            "build_s": round(t.get("build_s", 0.0), 4),
            "solve_s": round(t.get("solve_s", 0.0), 4),
            "extract_s": round(t.get("extract_s", 0.0), 4),
            "marginal_s": round(t.get("marginal_s", 0.0), 4),
            "n_variables": self.model_size.get("variables", 0),
            "n_binaries": self.model_size.get("binaries", 0),
            "n_constraints": self.model_size.get("constraints", 0),
            "unserved_kwh": round(self.unserved_kwh, 4),
            "peak_import_kw": round(self.kpis.get("peak_import_kw", 0.0), 4),
            "kpis": {k: round(v, 6) for k, v in sorted(self.kpis.items())},
            "alarms": list(self.alarms),
            "site_hash": self.site_hash,
            "created_at": self.created_at.isoformat(),
        }

    def local_frame(self, tz: str) -> pd.DataFrame:
        """The frame with a leading ``local_time`` column (site time, with offset)."""
        out = self.frame.copy()
        out.insert(
            0,
            "local_time",
            [ts.isoformat() for ts in pd.DatetimeIndex(self.frame.index).tz_convert(tz)],
        )
        out.index = pd.Index(
            [ts.isoformat().replace("+00:00", "Z") for ts in out.index], name="timestamp"
        )
        return out

    def write(self, out_dir: Path, tz: str) -> list[Path]:
        """Write ``schedule.csv``, ``schedule.json`` and ``summary.json`` into ``out_dir``."""
        out_dir.mkdir(parents=True, exist_ok=True)
        csv = out_dir / "schedule.csv"
        self.local_frame(tz).to_csv(csv, float_format="%.6g")
        js = out_dir / "schedule.json"
        js.write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")
        summary = out_dir / "summary.json"
        summary.write_text(json.dumps(self.summary(), indent=2), encoding="utf-8")
        return [csv, js, summary]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (frame in pandas "split" orient, ISO UTC index)."""
        frame = self.frame.copy()
        frame.index = pd.Index([ts.isoformat() for ts in frame.index])
        return {
            "frame": json.loads(frame.to_json(orient="split", double_precision=10)),
            "costs": self.costs,
            "costs_by_asset": self.costs_by_asset,
            "penalties": self.penalties,
            "kpis": self.kpis,
            "status": self.status,
            "mip_gap": self.mip_gap,
            "origin": self.origin,
            "site_hash": self.site_hash,
            "created_at": self.created_at.isoformat(),
            "timings": self.timings,
            "alarms": self.alarms,
            "objective_eur": self.objective_eur,
            "constants_eur": self.constants_eur,
            "co2_t": self.co2_t,
            "co2_weighted_eur": self.co2_weighted_eur,
            "model_size": self.model_size,
            "explanations": self.explanations,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Schedule:
        """Inverse of :meth:`to_dict`."""
        frame = pd.read_json(io.StringIO(json.dumps(d["frame"])), orient="split")
        frame.index = pd.DatetimeIndex(pd.to_datetime(frame.index, utc=True))
        return cls(
            frame=frame.astype(float),
            costs=dict(d["costs"]),
            costs_by_asset={k: dict(v) for k, v in d["costs_by_asset"].items()},
            penalties=dict(d["penalties"]),
            kpis=dict(d["kpis"]),
            status=d["status"],
            mip_gap=d.get("mip_gap"),
            origin=d["origin"],
            site_hash=d["site_hash"],
            created_at=datetime.fromisoformat(d["created_at"]),
            timings=dict(d.get("timings", {})),
            alarms=list(d.get("alarms", [])),
            objective_eur=d.get("objective_eur"),
            constants_eur=float(d.get("constants_eur", 0.0)),
            co2_t=float(d.get("co2_t", 0.0)),
            co2_weighted_eur=float(d.get("co2_weighted_eur", 0.0)),
            model_size=dict(d.get("model_size", {})),
            explanations={k: list(v) for k, v in d.get("explanations", {}).items()},
        )


def column_values(items: Any, n: int) -> np.ndarray:
    """Values of an indexed variable, a list of expressions or an indexed parameter."""
    import pyomo.environ as pyo

    seq = list(items.values()) if hasattr(items, "values") else list(items)
    out = np.empty(n)
    for t, x in enumerate(seq[:n]):
        v = (
            getattr(x, "value", None)
            if not hasattr(x, "is_expression_type") or not x.is_expression_type()
            else None
        )
        out[t] = float(v) if v is not None else float(pyo.value(x, exception=False) or 0.0)
    return out
