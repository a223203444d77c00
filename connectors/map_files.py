"""Loading register maps from YAML files (shipped in ``connectors/maps/`` or by path).

Problems are raised as :class:`energiemodell.errors.SiteError`, one
``FILE: points.NAME.field: problem (hint)`` line each.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from connectors.registers import RegisterMap
from energiemodell.errors import Problem, SiteError

MAPS_DIR = Path(__file__).parent / "maps"


def _problems(source: str, exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors():
        path = ".".join(str(x) for x in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        hint = "unknown key: see docs/register-maps.md" if err["type"] == "extra_forbidden" else ""
        problems.append(Problem(source, path, msg, hint))
    return problems


def map_from_dict(data: object, *, source: str = "<memory>") -> RegisterMap:
    """Validate a parsed register map; :class:`SiteError` lists every problem, naming the point."""
    if not isinstance(data, dict):
        raise SiteError.one(
            source, "", "a register map must be a mapping", "see docs/register-maps.md"
        )
    try:
        return RegisterMap.model_validate(data)
    except ValidationError as exc:
        raise SiteError(_problems(source, exc)) from None


_CACHE: dict[Path, tuple[float, RegisterMap]] = {}


def load_map(name_or_path: str | Path) -> RegisterMap:
    """Load a shipped map by model name (``janitza_umg96rm``) or a YAML map by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = MAPS_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in MAPS_DIR.glob("*.yaml")))
        raise SiteError.one(str(name_or_path), "", "no such register map", f"shipped: {known}")
    mtime = path.stat().st_mtime
    cached = _CACHE.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SiteError.one(str(path), "", f"cannot read the map: {exc}") from None
    rmap = map_from_dict(data, source=str(path))
    if path.parent == MAPS_DIR and rmap.model != path.stem:
        raise SiteError.one(str(path), "model", f"model {rmap.model!r} differs from the file name")
    _CACHE[path] = (mtime, rmap)
    return rmap
