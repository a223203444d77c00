"""Estimates of site quantities that no device measures directly.

Notes
-----
Storage level from tank temperatures. A stratified tank with ``n`` sensors at equal volume
spacing holds, relative to "empty" (all water at ``t_empty_c``),

    level_kwh = capacity_kwh * (mean(T_i) - t_empty_c) / (t_full_c - t_empty_c)

because ``capacity_kwh = rho * c_p * V * (t_full_c - t_empty_c) / 3600`` by definition of the
usable capacity (rho ~ 985 kg/m3, c_p ~ 4.19 kJ/(kg K) cancel out). For a chilled-water store
``t_full_c`` is the cold end (e.g. 6 degC) and ``t_empty_c`` the warm end (12 degC); the same
formula holds. The result is clipped to ``[0, capacity_kwh]``. Sensors without a value (bad
readings) are left out; with fewer than half of them there is no estimate (``None``), because a
guess from one sensor of a stratified tank can be off by half the capacity.
"""

from __future__ import annotations

from collections.abc import Sequence


def storage_level_kwh(
    temps_c: Sequence[float | None],
    *,
    capacity_kwh: float,
    t_empty_c: float,
    t_full_c: float,
) -> float | None:
    """Estimate a thermal store's level (kWh) from its layer temperatures (see module notes)."""
    if t_full_c == t_empty_c:
        msg = "t_full_c and t_empty_c must differ"
        raise ValueError(msg)
    good = [t for t in temps_c if t is not None]
    if not temps_c or 2 * len(good) < len(temps_c):
        return None
    share = (sum(good) / len(good) - t_empty_c) / (t_full_c - t_empty_c)
    return capacity_kwh * min(1.0, max(0.0, share))
