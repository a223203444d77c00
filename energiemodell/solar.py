"""Solar geometry and clear-sky irradiance with numpy (no PV library needed for a forecast).

Notes
-----
Solar position from the day of year ``d`` and UTC hour ``h`` (Spencer 1971, as in Duffie &
Beckman, *Solar Engineering of Thermal Processes*, ch. 1)::

    B = 2 pi (d - 1) / 365
    decl = 0.006918 - 0.399912 cos B + 0.070257 sin B - 0.006758 cos 2B
           + 0.000907 sin 2B - 0.002697 cos 3B + 0.00148 sin 3B            [rad]
    eot  = 229.18 (0.000075 + 0.001868 cos B - 0.032077 sin B
                   - 0.014615 cos 2B - 0.04089 sin 2B)                      [min]
    hour angle w = 15 deg * (h + lon / 15 + eot / 60 - 12)
    cos z = sin(lat) sin(decl) + cos(lat) cos(decl) cos(w)

Clear-sky global horizontal irradiance, Haurwitz (1945)::

    GHI_cs = 1098 cos z exp(-0.057 / cos z)   [W/m2] for cos z > 0, else 0
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def cos_zenith(index: pd.DatetimeIndex, latitude_deg: float, longitude_deg: float) -> np.ndarray:
    """Cosine of the solar zenith angle at the UTC instants of ``index`` (negative at night)."""
    utc = index.tz_convert("UTC")
    day = utc.day_of_year.to_numpy(dtype=float)
    hour = (utc.hour + utc.minute / 60 + utc.second / 3600).to_numpy(dtype=float)
    b = 2 * np.pi * (day - 1) / 365
    decl = (
        0.006918
        - 0.399912 * np.cos(b)
        + 0.070257 * np.sin(b)
        - 0.006758 * np.cos(2 * b)
        + 0.000907 * np.sin(2 * b)
        - 0.002697 * np.cos(3 * b)
        + 0.00148 * np.sin(3 * b)
    )
    eot_min = 229.18 * (
        0.000075
        + 0.001868 * np.cos(b)
        - 0.032077 * np.sin(b)
        - 0.014615 * np.cos(2 * b)
        - 0.04089 * np.sin(2 * b)
    )
    omega = np.radians(15 * (hour + longitude_deg / 15 + eot_min / 60 - 12))
    lat = np.radians(latitude_deg)
    return np.asarray(
        np.sin(lat) * np.sin(decl) + np.cos(lat) * np.cos(decl) * np.cos(omega), dtype=float
    )


def clear_sky_ghi(
    index: pd.DatetimeIndex, latitude_deg: float, longitude_deg: float, step_min: int
) -> np.ndarray:
    """Haurwitz clear-sky GHI (W/m²) at the middle of each interval starting at ``index``."""
    mid = index + pd.Timedelta(minutes=step_min / 2)
    cz = cos_zenith(mid, latitude_deg, longitude_deg)
    up = cz > 0
    out = np.zeros(len(index))
    out[up] = 1098.0 * cz[up] * np.exp(-0.057 / cz[up])
    return out
