"""Apply a scenario's changes to a site: edit a copy of its content, then validate it again.

Paths address the site format (``docs/site-format.md``): mapping keys by name, list entries
by position (``tariffs.0``) or, for lists of named entries (assets, devices), by name
(``assets.chp2.p_el_max_kw``). A change that cannot be applied names its path and the reason;
a changed site that is not valid fails with the site's own messages. Nothing here solves.
"""

from __future__ import annotations

import copy
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from energiemodell.errors import Problem, SiteError
from energiemodell.site import Site, load_site, site_from_dict
from energiemodell.state import Outage
from energiemodell.timeseries import local_midnight_utc, parse_local_start
from scenarios.spec import (
    AddAsset,
    Availability,
    Change,
    RemoveAsset,
    ReplaceSeries,
    ScaleChange,
    ScenarioSpec,
    SetChange,
)


class ChangeError(ValueError):
    """A change that cannot be applied (the message says why)."""


def load_base_site(spec: ScenarioSpec, spec_dir: Path) -> Site:
    """The scenario's base site: a path relative to the scenario file, or a shipped name."""
    candidate = spec_dir / spec.base_site
    return load_site(candidate if candidate.exists() else spec.base_site)


def local_instant(value: datetime | date, tz: str, *, field: str) -> pd.Timestamp:
    """A local date (midnight) or date-time at the site as a UTC timestamp."""
    if isinstance(value, datetime):
        return parse_local_start(value.isoformat(), tz, option=field)
    return local_midnight_utc(value, tz)


def apply_changes(
    site: Site, changes: list[Change], *, source: str = "<scenario>", spec_dir: Path | None = None
) -> Site:
    """The site with ``changes`` applied and validated again (availability is not site content).

    Raises
    ------
    SiteError
        One problem per change that cannot be applied (``changes.<i>: <path>: <reason>``), or
        the changed site's validation problems.
    """
    data = site.model_dump()
    problems: list[Problem] = []
    for i, change in enumerate(changes):
        try:
            _apply_one(data, change, spec_dir or Path())
        except ChangeError as exc:
            where = getattr(change, "path", None) or _label(change)
            problems.append(Problem(source, f"changes.{i}: {where}", str(exc)))
    if problems:
        raise SiteError(problems)
    changed = site_from_dict(data, source=f"{source} (site after changes)", base_dir=site.base_dir)
    names = {a.name for a in changed.assets}
    for i, change in enumerate(changes):
        if isinstance(change, Availability) and change.availability.asset not in names:
            msg = (
                f"no asset named {change.availability.asset!r}; assets: {', '.join(sorted(names))}"
            )
            problems.append(Problem(source, f"changes.{i}: availability.asset", msg))
    if problems:
        raise SiteError(problems)
    return changed


def outages(site: Site, changes: list[Change]) -> list[Outage]:
    """The availability windows of ``changes`` as outages (UTC) for the plant state."""
    out = []
    for change in changes:
        if isinstance(change, Availability):
            w = change.availability
            out.append(
                Outage(
                    asset=w.asset,
                    start=local_instant(w.start, site.timezone, field="availability.start"),
                    end=local_instant(w.end, site.timezone, field="availability.end"),
                    units=w.units,
                    reason=w.reason or "scenario availability window",
                )
            )
    return out


def _label(change: Change) -> str:
    if isinstance(change, AddAsset):
        return f"add_asset {change.add_asset.get('name', '?')}"
    if isinstance(change, RemoveAsset):
        return f"remove_asset {change.remove_asset}"
    if isinstance(change, ReplaceSeries):
        return f"replace_series {change.replace_series.forecast_column}"
    if isinstance(change, Availability):
        return f"availability {change.availability.asset}"
    return "change"


def _apply_one(data: dict[str, Any], change: Change, spec_dir: Path) -> None:
    if isinstance(change, SetChange | ScaleChange):
        parent, key = _locate(data, change.path)
        current = _get(parent, key, change.path)
        if isinstance(change, SetChange):
            _put(parent, key, _like(current, change.set))
            return
        if isinstance(current, bool) or not isinstance(current, int | float):
            msg = f"scale needs a number, but the value is {current!r}"
            raise ChangeError(msg)
        _put(parent, key, _like(current, current * change.scale))
    elif isinstance(change, AddAsset):
        entry = copy.deepcopy(change.add_asset)
        if "name" not in entry or "type" not in entry:
            msg = "an added asset needs a name and a type"
            raise ChangeError(msg)
        data["assets"].append(entry)
    elif isinstance(change, RemoveAsset):
        name = change.remove_asset
        if not any(a["name"] == name for a in data["assets"]):
            raise ChangeError(_no_name("asset", name, data["assets"]))
        data["assets"] = [a for a in data["assets"] if a["name"] != name]
        data["devices"] = [d for d in data.get("devices", []) if d.get("asset") != name]
    elif isinstance(change, ReplaceSeries):
        _replace_series(data, change, spec_dir)


def _replace_series(data: dict[str, Any], change: ReplaceSeries, spec_dir: Path) -> None:
    r = change.replace_series
    path = (spec_dir / r.file).resolve()
    if not path.exists():
        msg = f"series file {path} not found"
        raise ChangeError(msg)
    kept = []
    for sf in data["series"]:
        cols = {k: v for k, v in sf["columns"].items() if v != r.forecast_column}
        if cols:
            kept.append({**sf, "columns": cols})
    kept.append(
        {
            "file": str(path),
            "timestamp_column": r.timestamp_column,
            "columns": {r.column: r.forecast_column},
        }
    )
    data["series"] = kept


def _locate(data: dict[str, Any], path: str) -> tuple[Any, str]:
    """The container holding the last element of ``path``, and that element's key."""
    tokens = path.split(".")
    node: Any = data
    for i, tok in enumerate(tokens[:-1]):
        node = _get(node, tok, ".".join(tokens[: i + 1]))
        if not isinstance(node, dict | list):
            msg = f"{'.'.join(tokens[: i + 1])} is a value ({node!r}), not a section"
            raise ChangeError(msg)
    return node, tokens[-1]


def _index(node: list[Any], key: str, where: str) -> int:
    if key.isdigit():
        if int(key) >= len(node):
            msg = f"{where}: there are only {len(node)} entries (positions from 0)"
            raise ChangeError(msg)
        return int(key)
    for i, item in enumerate(node):
        if isinstance(item, dict) and item.get("name") == key:
            return i
    raise ChangeError(_no_name("entry", key, node))


def _get(node: Any, key: str, where: str) -> Any:
    if isinstance(node, dict):
        if key not in node:
            known = ", ".join(sorted(map(str, node))) or "none"
            msg = f"no field {key!r} here; fields: {known}"
            raise ChangeError(msg)
        return node[key]
    if isinstance(node, list):
        return node[_index(node, key, where)]
    msg = f"cannot look up {key!r} in a value"
    raise ChangeError(msg)


def _put(node: Any, key: str, value: Any) -> None:
    if isinstance(node, dict):
        node[key] = value
    else:
        node[_index(node, key, key)] = value


def _like(current: Any, value: Any) -> Any:
    """Keep integers integers (``units: 3`` swept to 4.0 stays 4)."""
    integral = isinstance(value, float) and value.is_integer()
    if isinstance(current, int) and not isinstance(current, bool) and integral:
        return int(value)
    return value


def _no_name(kind: str, name: str, items: list[Any]) -> str:
    names = [str(i.get("name")) for i in items if isinstance(i, dict) and "name" in i]
    known = ", ".join(names) if names else f"positions 0..{len(items) - 1}"
    return f"no {kind} named {name!r}; known: {known}"


def sweep_changes(spec: ScenarioSpec) -> list[tuple[str, float | None, list[Change]]]:
    """Per sweep point: its label, the swept value and the full list of changes."""
    if spec.sweep is None:
        return [(spec.name, None, list(spec.changes))]
    out: list[tuple[str, float | None, list[Change]]] = []
    for value in spec.sweep.points():
        label = f"{spec.name}[{spec.sweep.path}={value:g}]"
        out.append((label, value, [*spec.changes, SetChange(path=spec.sweep.path, set=value)]))
    return out
