"""``energiemodell import prices|weather|history``: checked like site series, stored, read back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from energiemodell.site import load_site
from energiemodell.store import (
    Database,
    aggregates_wide,
    forecasts_issued,
    open_db,
    upgrade,
)
from energiemodell.timeseries import load_forecast
from scheduler.cli_import import import_app
from scheduler.forecasting import IMPORTED_PRICES, IMPORTED_WEATHER, HistoryForecast
from tests.conftest import write_site_files

runner = CliRunner()
T0 = datetime(2024, 3, 12, 23, 0, tzinfo=UTC)  # where the small site's own series end


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[str, Database]]:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    db = open_db(url)
    upgrade(db=db)
    yield url, db
    db.dispose()


def csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def hourly(start: datetime, values: list[str]) -> list[str]:
    return [
        f"{(start + timedelta(hours=k)).isoformat().replace('+00:00', 'Z')},{v}"
        for k, v in enumerate(values)
    ]


def test_prices_are_stored_and_the_forecaster_uses_them_beyond_the_site_series(tmp_path, store):
    url, db = store
    site_path = write_site_files(tmp_path / "site")
    site = load_site(site_path)
    at, n = T0 - timedelta(hours=2), 16  # 22:00 local: tomorrow's prices are published
    before = HistoryForecast(site, db).forecast(at, n)
    assert before.loc[T0:, "price.is_forecast"].all()  # guessed beyond the site's series

    f = csv(tmp_path / "prices.csv", "timestamp,price_eur_per_mwh", hourly(T0, ["200", "210"]))
    r = runner.invoke(import_app, ["prices", str(f), "--site", str(site_path), "--db", url])
    assert r.exit_code == 0, r.output
    (stored,) = forecasts_issued(
        db=db, start=T0 - timedelta(days=9999), end=datetime.now(UTC), source=IMPORTED_PRICES
    )
    assert list(stored.frame.columns) == ["price.day_ahead_eur_per_mwh"]
    assert len(stored.frame) == 8  # resampled onto the site's 15-minute step
    assert stored.frame.iloc[:4, 0].tolist() == [200.0] * 4

    after = HistoryForecast(site, db).forecast(at, n)
    prices = after["price.day_ahead_eur_per_mwh"]
    assert prices.loc[T0 : T0 + timedelta(minutes=45)].tolist() == [200.0] * 4
    assert prices.loc[T0 + timedelta(hours=1) :].tolist() == [210.0] * 4
    assert not after.loc[T0:, "price.is_forecast"].any()
    # the hours the site's own series cover keep the site's prices
    pd.testing.assert_series_equal(
        prices.loc[: T0 - timedelta(minutes=15)],
        before["price.day_ahead_eur_per_mwh"].loc[: T0 - timedelta(minutes=15)],
    )


def test_weather_is_stored_and_bad_rows_exit_2_with_the_problem(tmp_path, store):
    url, db = store
    good = csv(tmp_path / "w.csv", "timestamp,temp_c,ghi_w_m2", hourly(T0, ["4.5,0", "3.0,0"]))
    r = runner.invoke(import_app, ["weather", str(good), "--db", url])
    assert r.exit_code == 0, r.output
    (w,) = forecasts_issued(
        db=db, start=T0 - timedelta(days=9999), end=datetime.now(UTC), source=IMPORTED_WEATHER
    )
    assert w.frame["weather.temp_c"].tolist() == [4.5, 3.0]

    bad = csv(tmp_path / "bad.csv", "timestamp,temp_c,ghi_w_m2", hourly(T0, ["4.5,0", "warm,0"]))
    r = runner.invoke(import_app, ["weather", str(bad), "--db", url])
    assert r.exit_code == 2
    assert f"{bad.resolve()}: temp_c: row 3: value 'warm' is missing or not a number" in r.output
    assert "Traceback" not in r.output
    naive = csv(tmp_path / "naive.csv", "timestamp,price_eur_mwh", ["2024-03-13T00:00,1"] * 2)
    r = runner.invoke(import_app, ["prices", str(naive), "--db", url])
    assert r.exit_code == 2
    assert "has no UTC offset" in r.output
    wrong = csv(tmp_path / "wrong.csv", "timestamp,eur", hourly(T0, ["1", "2"]))
    r = runner.invoke(import_app, ["prices", str(wrong), "--db", url])
    assert r.exit_code == 2
    assert "missing column(s) price_eur_mwh" in r.output
    # nothing of the bad files was stored
    assert len(forecasts_issued(db=db, start=T0 - timedelta(days=9999), end=datetime.now(UTC))) == 1


def test_history_becomes_aggregates_and_is_not_imported_twice(tmp_path, store):
    url, db = store
    header = "timestamp,electricity_kw,heat_kw,cooling_kw"
    f = csv(tmp_path / "h.csv", header, hourly(T0, ["400,800,100", "420,700,90"]))
    r = runner.invoke(import_app, ["history", str(f), "--db", url])
    assert r.exit_code == 0, r.output
    wide = aggregates_wide(db=db, start=T0, end=T0 + timedelta(hours=2))
    assert len(wide) == 8  # one 15-minute bucket each
    assert wide["demand.heat_kw"].tolist() == [800.0] * 4 + [700.0] * 4
    assert wide["demand.cooling_kw"].iloc[-1] == 90.0

    again = runner.invoke(import_app, ["history", str(f), "--db", url])
    assert again.exit_code == 2
    assert "already has measurements" in again.output
    assert aggregates_wide(db=db, start=T0, end=T0 + timedelta(hours=2)).equals(wide)


def test_a_store_without_schema_exits_1(tmp_path):
    f = csv(tmp_path / "p.csv", "timestamp,price_eur_mwh", hourly(T0, ["1", "2"]))
    r = runner.invoke(import_app, ["prices", str(f), "--db", f"sqlite:///{tmp_path / 'x.sqlite'}"])
    assert r.exit_code == 1
    assert "db upgrade" in r.output


def test_imported_weather_is_the_forecasters_weather_forecast(tmp_path, store):
    # The reference campus on a winter day (the site's series: -7 to 0 °C). Imported: a warm
    # spell of 14 °C and an irradiance forecast unlike the site's, hourly, resampled by --site.
    url, db = store
    site = load_site("reference_campus")
    at, n = datetime(2024, 2, 5, 11, 0, tzinfo=UTC), 96
    loop = HistoryForecast(site, db)  # what build_deps gives the loop
    before = loop.forecast(at, n)
    assert before["weather.is_fallback"].all()  # nothing imported: the site's series stand in
    assert before["weather.temp_c"].max() < 1.0

    sun = {12: "300", 13: "250"}  # only two sunny hours (UTC) in the imported day
    rows = [f"14.0,{sun.get((11 + k) % 24, '0')}" for k in range(24)]
    f = csv(tmp_path / "warm.csv", "timestamp,temp_c,ghi_w_m2", hourly(at, rows))
    r = runner.invoke(import_app, ["weather", str(f), "--site", "reference_campus", "--db", url])
    assert r.exit_code == 0, r.output
    after = loop.forecast(at, n)

    assert not after["weather.is_fallback"].any()
    np.testing.assert_allclose(after["weather.temp_c"], 14.0)
    # warmer: less heating; the 24 h mean temperature has moved in the second half-day
    assert (
        after["demand.heat_kw"].iloc[48:].mean() < before["demand.heat_kw"].iloc[48:].mean() - 500
    )
    # PV follows the imported irradiance: nothing outside its two sunny hours
    ghi = after["weather.ghi_w_m2"].to_numpy()
    pv = after["pv.kw_per_kwp"].to_numpy()
    np.testing.assert_allclose(ghi[:4], 0.0)  # 11:00-12:00 UTC imported dark
    assert (before["pv.kw_per_kwp"].to_numpy()[:4] > 0.01).all()  # the site's series had sun
    np.testing.assert_allclose(pv[ghi == 0], 0.0)
    np.testing.assert_allclose(ghi[4:12], [300.0] * 4 + [250.0] * 4)
    np.testing.assert_allclose(pv[4:12] / ghi[4:12], pv[4] / 300.0)
    assert pv[4] > 0.1

    # a newer import for the first three hours wins there; the older one still covers the rest
    cold = csv(tmp_path / "cold.csv", "timestamp,temp_c,ghi_w_m2", hourly(at, ["-5,0"] * 3))
    r = runner.invoke(import_app, ["weather", str(cold), "--site", "reference_campus", "--db", url])
    assert r.exit_code == 0, r.output
    newest = loop.forecast(at, n)
    np.testing.assert_allclose(newest["weather.temp_c"].iloc[:12], -5.0)
    np.testing.assert_allclose(newest["weather.temp_c"].iloc[12:], 14.0)

    # beyond the imports the site's series stand in again, flagged
    later = loop.forecast(at + timedelta(hours=12), n)
    flag = later["weather.is_fallback"].to_numpy()
    assert not flag[:48].any()
    assert flag[48:].all()
    tail = later["weather.temp_c"].iloc[48:]
    np.testing.assert_allclose(tail, load_forecast(site, tail.index[0], 48)["weather.temp_c"])
