"""The forecasters use only what is known at the time; the profile forecaster beats persistence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energiemodell.forecast import (
    PersistenceForecaster,
    ProfileForecaster,
    day_ahead_known_until,
)
from energiemodell.site import Site
from energiemodell.solar import clear_sky_ghi
from energiemodell.timeseries import load_forecast

TZ = "Europe/Berlin"
WEEK = pd.Timedelta(days=7)


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


# --- ProfileForecaster -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def winter(reference_site: Site) -> pd.DataFrame:
    return load_forecast(reference_site, pd.Timestamp("2024-01-01T00:00Z"), 43 * 96)


@pytest.fixture(scope="module")
def june(reference_site: Site) -> pd.DataFrame:
    return load_forecast(reference_site, pd.Timestamp("2024-06-01T00:00Z"), 16 * 96)


def test_profile_forecast_reads_no_measurement_after_now(
    reference_site: Site, winter: pd.DataFrame
) -> None:
    now = pd.Timestamp("2024-02-05T08:00Z")
    f = ProfileForecaster()
    base = f.forecast(reference_site, winter, now, 192)
    future = winter.copy()
    late = future.index >= now
    for col in ("demand.heat_kw", "demand.electricity_kw", "demand.cooling_kw", "pv.kw_per_kwp"):
        future.loc[late, col] = -999.0
    unpublished = future.index >= day_ahead_known_until(now, TZ)
    future.loc[unpublished, "price.day_ahead_eur_per_mwh"] = 9999.0
    pd.testing.assert_frame_equal(base, f.forecast(reference_site, future, now, 192))
    assert (base["demand.heat_kw"] > 0).all()
    assert base["price.is_forecast"].iloc[-1]


def test_without_a_weather_forecast_the_temperature_holds(
    reference_site: Site, winter: pd.DataFrame
) -> None:
    now = pd.Timestamp("2024-02-05T08:00Z")
    past = winter.loc[winter.index < now]
    fc = ProfileForecaster().forecast(reference_site, past, now, 96)
    np.testing.assert_allclose(fc["weather.temp_c"], past["weather.temp_c"].iloc[-1])
    assert fc["demand.heat_kw"].notna().all()


def test_a_public_holiday_is_forecast_from_sundays(reference_site: Site) -> None:
    history = load_forecast(reference_site, pd.Timestamp("2024-04-01T00:00Z"), 31 * 96)
    now = pd.Timestamp("2024-04-30T10:00Z")  # 12:00 local; 1 May (Saxony: holiday) is next
    fc = ProfileForecaster().forecast(reference_site, history, now, 2 * 96)
    el = history["demand.electricity_kw"]
    local = el.index.tz_convert(TZ)
    sundays = (
        local.normalize()
        .tz_localize(None)
        .isin(pd.to_datetime(["2024-04-07", "2024-04-14", "2024-04-21", "2024-04-28"]))
    )
    on_sundays = el[sundays].groupby(local[sundays].strftime("%H:%M")).mean()
    fc_local = fc.index.tz_convert(TZ)
    may_day = fc_local.normalize().tz_localize(None) == pd.Timestamp("2024-05-01")
    expected = on_sundays.reindex(fc_local[may_day].strftime("%H:%M")).to_numpy()
    np.testing.assert_allclose(fc["demand.electricity_kw"][may_day], expected)
    midday = (local.hour >= 10) & (local.hour < 14)
    monday = (local.normalize().tz_localize(None) == pd.Timestamp("2024-04-29")) & midday
    may_midday = may_day & (fc_local.hour >= 10) & (fc_local.hour < 14)
    assert fc["demand.electricity_kw"][may_midday].mean() < 0.9 * el[monday].mean()


def test_profile_beats_persistence_on_winter_heat(
    reference_site: Site, winter: pd.DataFrame
) -> None:
    # Day-ahead (96 x 15 min from 11:00 UTC) heat MAE over 5-11 Feb 2024 (mean heat 4,946 kW),
    # measured when written: profile 171 kW, persistence 349 kW (per day 201/233, 280/303,
    # 148/339, 114/489, 186/621, 108/335, 162/126).
    mae: dict[str, list[float]] = {"profile": [], "persistence": []}
    actual = winter["demand.heat_kw"]
    for day in pd.date_range("2024-02-05T11:00Z", periods=7, freq="D"):
        for name, f in (("profile", ProfileForecaster()), ("persistence", PersistenceForecaster())):
            fc = f.forecast(reference_site, winter, day, 96)["demand.heat_kw"]
            mae[name].append(float((fc - actual.reindex(fc.index)).abs().mean()))
    profile, persistence = np.mean(mae["profile"]), np.mean(mae["persistence"])
    assert profile < 0.75 * persistence, (profile, persistence)


def test_clear_sky_is_dark_at_night_and_bright_at_noon_in_june(
    reference_site: Site, june: pd.DataFrame
) -> None:
    loc = reference_site.location
    assert loc is not None
    day = pd.date_range("2024-06-15T00:00Z", periods=96, freq="15min")
    sky = clear_sky_ghi(day, loc.latitude_deg, loc.longitude_deg, 15)
    hours = day.hour
    assert (sky[(hours < 1) | (hours >= 21)] == 0).all()
    assert sky[hours == 11].min() > 700  # solar noon in Dresden is about 11:05 UTC
    assert sky.argmax() in range(40, 50)
    now = pd.Timestamp("2024-06-15T00:00Z")
    no_weather = june.copy()
    no_weather.loc[no_weather.index >= now, ["weather.ghi_w_m2", "weather.temp_c"]] = np.nan
    pv = ProfileForecaster().forecast(reference_site, no_weather, now, 96)["pv.kw_per_kwp"]
    assert (pv[(hours < 1) | (hours >= 21)] == 0).all()
    assert (pv[hours == 11] > 0.1).all()


def test_pv_follows_the_irradiance_forecast(reference_site: Site, june: pd.DataFrame) -> None:
    now = pd.Timestamp("2024-06-15T00:00Z")
    fc = ProfileForecaster().forecast(reference_site, june, now, 96)
    ghi = june["weather.ghi_w_m2"].reindex(fc.index).to_numpy()
    ratio = fc["pv.kw_per_kwp"].to_numpy()[ghi > 100] / ghi[ghi > 100]
    np.testing.assert_allclose(ratio, ratio[0])  # one performance ratio times the forecast GHI
    assert 0.0005 < ratio[0] < 0.001


@pytest.mark.parametrize(
    ("fixture", "now", "column"),
    [
        ("winter", "2024-02-05T11:00Z", "demand.heat_kw"),
        ("june", "2024-06-15T11:00Z", "demand.cooling_kw"),
    ],
)
def test_temperature_correction_has_the_right_sign(
    reference_site: Site, request: pytest.FixtureRequest, fixture: str, now: str, column: str
) -> None:
    history: pd.DataFrame = request.getfixturevalue(fixture)
    at = pd.Timestamp(now)
    ahead = history.index >= at
    forecasts = []
    for shift_k in (-5.0, 5.0):
        shifted = history.copy()
        shifted.loc[ahead, "weather.temp_c"] += shift_k
        fc = ProfileForecaster().forecast(reference_site, shifted, at, 96)
        forecasts.append(fc[column].iloc[48:].mean())  # the second half-day: 24 h mean moved
    colder, warmer = forecasts
    if column == "demand.heat_kw":
        assert colder > warmer + 50
    else:
        assert warmer > colder + 10


def test_profile_price_guesses_are_level_adjusted(
    reference_site: Site, winter: pd.DataFrame
) -> None:
    now = pd.Timestamp("2024-02-05T12:00Z")  # 13:00 local: 6 Feb published, later hours not
    fc = ProfileForecaster().forecast(reference_site, winter, now, 192)
    prices = winter["price.day_ahead_eur_per_mwh"]
    known_until = pd.Timestamp("2024-02-06T23:00Z")
    last_day = prices[
        (prices.index >= known_until - pd.Timedelta(days=1)) & (prices.index < known_until)
    ]
    shift = float(np.mean(last_day.to_numpy() - prices.reindex(last_day.index - WEEK).to_numpy()))
    guessed = fc["price.is_forecast"].to_numpy()
    assert guessed.any()
    assert not guessed[fc.index < known_until].any()
    week_ago = prices.reindex(fc.index[guessed] - WEEK).to_numpy()
    np.testing.assert_allclose(fc["price.day_ahead_eur_per_mwh"][guessed], week_ago + shift)
    assert abs(shift) > 1  # the adjustment is not trivially zero on these days


# --- the weather forecast input ----------------------------------------------------------------


def test_a_given_weather_forecast_wins_and_the_intervals_it_misses_are_flagged(
    reference_site: Site, winter: pd.DataFrame
) -> None:
    now = pd.Timestamp("2024-02-05T11:00Z")
    index = pd.date_range(now, periods=96, freq="15min")
    own = winter.reindex(index)
    weather = pd.DataFrame(
        {"weather.temp_c": own["weather.temp_c"] + 10.0, "weather.ghi_w_m2": 0.0}, index=index
    ).iloc[:48]  # a forecast of the first twelve hours only
    fc = ProfileForecaster().forecast(reference_site, winter, now, 96, weather=weather)
    flag = fc["weather.is_fallback"].to_numpy()
    assert not flag[:48].any()
    assert flag[48:].all()
    # the forecast where given; the site's rows ahead stand in for the rest
    np.testing.assert_allclose(fc["weather.temp_c"].iloc[:48], weather["weather.temp_c"])
    np.testing.assert_allclose(fc["weather.temp_c"].iloc[48:], own["weather.temp_c"].iloc[48:])
    assert (fc["weather.ghi_w_m2"].iloc[:48] == 0).all()
    assert (fc["pv.kw_per_kwp"].iloc[:48] == 0).all()  # no sun in the forecast, no PV
    assert (fc["pv.kw_per_kwp"].iloc[48:] > 0).any()  # the next morning's sun from the site rows


def test_without_a_weather_forecast_ahead_every_interval_is_flagged(
    reference_site: Site, winter: pd.DataFrame
) -> None:
    now = pd.Timestamp("2024-02-05T11:00Z")
    past = winter.loc[winter.index < now]
    assert ProfileForecaster().forecast(reference_site, past, now, 96)["weather.is_fallback"].all()
    # a scenario's whole data set: its weather rows ahead are the (perfect) forecast
    full = ProfileForecaster().forecast(reference_site, winter, now, 96)
    assert not full["weather.is_fallback"].any()
    # an empty weather forecast given: the rows ahead only stand in, flagged, values unchanged
    empty = pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC"), dtype=float)
    stand_in = ProfileForecaster().forecast(reference_site, winter, now, 96, weather=empty)
    assert stand_in["weather.is_fallback"].all()
    pd.testing.assert_frame_equal(
        stand_in.drop(columns="weather.is_fallback"), full.drop(columns="weather.is_fallback")
    )
    # the baseline reads no weather forecast at all
    base = PersistenceForecaster().forecast(reference_site, winter, now, 96, weather=empty)
    assert base["weather.is_fallback"].all()


def test_a_colder_weather_forecast_raises_the_heat_forecast(
    reference_site: Site, winter: pd.DataFrame
) -> None:
    now = pd.Timestamp("2024-02-05T11:00Z")
    index = pd.date_range(now, periods=96, freq="15min")
    own = winter["weather.temp_c"].reindex(index)
    heat = {}
    for shift_k in (-8.0, 8.0):
        weather = pd.DataFrame({"weather.temp_c": own + shift_k, "weather.ghi_w_m2": 0.0})
        fc = ProfileForecaster().forecast(reference_site, winter, now, 96, weather=weather)
        heat[shift_k] = fc["demand.heat_kw"].iloc[48:].mean()
    assert heat[-8.0] > heat[8.0] + 100


def test_pv_follows_a_given_irradiance_forecast_also_without_a_location(
    reference_site: Site, june: pd.DataFrame
) -> None:
    now = pd.Timestamp("2024-06-15T00:00Z")
    index = pd.date_range(now, periods=96, freq="15min")
    ghi = 0.5 * june["weather.ghi_w_m2"].reindex(index)  # a cloudier day than the site's
    weather = pd.DataFrame({"weather.temp_c": 20.0, "weather.ghi_w_m2": ghi})
    for site in (reference_site, reference_site.model_copy(update={"location": None})):
        fc = ProfileForecaster().forecast(site, june, now, 96, weather=weather)
        sunny = ghi.to_numpy() > 100
        ratio = fc["pv.kw_per_kwp"].to_numpy()[sunny] / ghi.to_numpy()[sunny]
        np.testing.assert_allclose(ratio, ratio[0])
        assert 0.0005 < ratio[0] < 0.001
        np.testing.assert_allclose(fc["weather.ghi_w_m2"], ghi.to_numpy())
    past = june.loc[june.index < now]
    no_location = reference_site.model_copy(update={"location": None})
    yesterday = ProfileForecaster().forecast(no_location, past, now, 96)["pv.kw_per_kwp"]
    np.testing.assert_allclose(yesterday, june["pv.kw_per_kwp"].reindex(index - pd.Timedelta("1D")))
