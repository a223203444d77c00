"""The persistence forecaster uses only what is known at the time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energiemodell.forecast import PersistenceForecaster, day_ahead_known_until
from energiemodell.site import Site
from energiemodell.timeseries import load_forecast

TZ = "Europe/Berlin"


@pytest.mark.parametrize(
    ("now", "known_until"),
    [
        ("2024-03-12T10:45Z", "2024-03-12T23:00Z"),  # 11:45 local: today only
        ("2024-03-12T11:00Z", "2024-03-13T23:00Z"),  # 12:00 local: tomorrow published
        ("2024-03-30T12:00Z", "2024-03-31T22:00Z"),  # tomorrow is the 23-hour day
    ],
)
def test_day_ahead_is_known_until_the_end_of_the_published_day(now: str, known_until: str) -> None:
    assert day_ahead_known_until(pd.Timestamp(now), TZ) == pd.Timestamp(known_until)


@pytest.fixture(scope="module")
def history(reference_site: Site) -> pd.DataFrame:
    return load_forecast(reference_site, pd.Timestamp("2024-03-01T00:00Z"), 20 * 96)


def test_forecast_ignores_everything_after_now(reference_site: Site, history: pd.DataFrame) -> None:
    now = pd.Timestamp("2024-03-12T08:00Z")
    f = PersistenceForecaster()
    base = f.forecast(reference_site, history, now, 192)
    future = history.copy()
    late = future.index >= now
    for col in ("demand.heat_kw", "demand.electricity_kw", "pv.kw_per_kwp", "weather.temp_c"):
        future.loc[late, col] = -999.0
    unpublished = future.index >= day_ahead_known_until(now, TZ)
    future.loc[unpublished, "price.day_ahead_eur_per_mwh"] = 9999.0
    pd.testing.assert_frame_equal(base, f.forecast(reference_site, future, now, 192))


def test_prices_published_are_used_and_later_ones_flagged(
    reference_site: Site, history: pd.DataFrame
) -> None:
    now = pd.Timestamp("2024-03-12T12:00Z")  # 13:00 local: tomorrow's prices are known
    fc = PersistenceForecaster().forecast(reference_site, history, now, 192)
    known = fc.index < pd.Timestamp("2024-03-13T23:00Z")
    real = history["price.day_ahead_eur_per_mwh"].reindex(fc.index)
    assert not fc["price.is_forecast"][known].any()
    assert fc["price.is_forecast"][~known].all()
    np.testing.assert_allclose(fc["price.day_ahead_eur_per_mwh"][known], real[known])
    week_ago = history["price.day_ahead_eur_per_mwh"].reindex(
        fc.index[~known] - pd.Timedelta(days=7)
    )
    np.testing.assert_allclose(fc["price.day_ahead_eur_per_mwh"][~known], week_ago.to_numpy())


def test_loads_blend_from_latest_value_to_last_week(
    reference_site: Site, history: pd.DataFrame
) -> None:
    now = pd.Timestamp("2024-03-12T08:00Z")
    fc = PersistenceForecaster(blend_h=6).forecast(reference_site, history, now, 96)
    heat = history["demand.heat_kw"]
    latest = heat[heat.index < now].iloc[-1]
    assert fc["demand.heat_kw"].iloc[0] == pytest.approx(latest)
    later = fc.index[24:]  # six hours on: last week's profile alone
    np.testing.assert_allclose(
        fc["demand.heat_kw"].iloc[24:], heat.reindex(later - pd.Timedelta(days=7)).to_numpy()
    )
    mid = fc["demand.heat_kw"].iloc[12]
    ago = heat[fc.index[12] - pd.Timedelta(days=7)]
    assert mid == pytest.approx(0.5 * latest + 0.5 * ago)


def test_without_last_week_the_latest_value_holds(
    reference_site: Site, history: pd.DataFrame
) -> None:
    now = pd.Timestamp("2024-03-02T00:00Z")  # history starts a day earlier
    fc = PersistenceForecaster().forecast(reference_site, history, now, 8)
    latest = history["demand.electricity_kw"][history.index < now].iloc[-1]
    np.testing.assert_allclose(fc["demand.electricity_kw"], latest)
