"""Series resampling, local time at the edges, and the duration and start options."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from energiemodell.errors import Problem, SiteError
from energiemodell.site import SeriesFile, load_site
from energiemodell.timeseries import (
    horizon_index,
    load_forecast,
    local_midnight_utc,
    parse_duration_steps,
    parse_local_start,
    read_series_file,
    resample_to,
)
from energiemodell.validate import check_site, default_period

T0 = pd.Timestamp("2024-03-12T00:00:00Z")
BERLIN = "Europe/Berlin"


def hourly(**columns: list[float]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    return pd.DataFrame(columns, index=pd.date_range(T0, periods=n, freq="h"))


# --- upsampling: hourly file, 15-minute site step ------------------------------------------------


def test_hourly_price_is_forward_filled_to_its_four_quarter_hours():
    frame = hourly(**{"price.day_ahead_eur_per_mwh": [10.0, -20.0, 30.0]})
    out = resample_to(frame, horizon_index(T0, 12, 15), path="p.csv")
    assert out["price.day_ahead_eur_per_mwh"].tolist() == [10.0] * 4 + [-20.0] * 4 + [30.0] * 4


def test_hourly_mean_power_is_repeated_so_energy_is_kept():
    frame = hourly(**{"demand.heat_kw": [100.0, 200.0, 300.0]})
    out = resample_to(frame, horizon_index(T0, 12, 15), path="p.csv")
    assert out["demand.heat_kw"].tolist() == [100.0] * 4 + [200.0] * 4 + [300.0] * 4
    assert out["demand.heat_kw"].sum() * 0.25 == frame["demand.heat_kw"].sum() * 1.0


def test_hourly_temperature_is_interpolated_in_time():
    frame = hourly(**{"weather.temp_c": [0.0, 4.0, 8.0]})
    out = resample_to(frame, horizon_index(T0, 12, 15), path="p.csv")
    # Linear between the hourly values; the file's last hour has no next value and holds.
    assert out["weather.temp_c"].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 8, 8]


def test_temperature_of_a_horizon_ending_on_the_hour_uses_the_next_file_value():
    # The horizon ends at 01:45; 01:15..01:45 lie between the file's 01:00 and 02:00 values.
    frame = hourly(**{"weather.temp_c": [0.0, 4.0, 8.0]})
    out = resample_to(frame, horizon_index(T0, 8, 15), path="p.csv")
    assert out["weather.temp_c"].tolist() == [0, 1, 2, 3, 4, 5, 6, 7]


def test_upsampling_from_a_start_inside_an_hour():
    frame = hourly(
        **{"price.day_ahead_eur_per_mwh": [10.0, 20.0, 30.0], "weather.temp_c": [0.0, 4.0, 8.0]}
    )
    out = resample_to(frame, horizon_index(T0 + pd.Timedelta("30min"), 4, 15), path="p.csv")
    assert out["price.day_ahead_eur_per_mwh"].tolist() == [10.0, 10.0, 20.0, 20.0]
    assert out["weather.temp_c"].tolist() == [2.0, 3.0, 4.0, 5.0]


# --- downsampling and equal resolution -----------------------------------------------------------


def test_five_minute_power_is_averaged_to_quarter_hours():
    frame = pd.DataFrame(
        {"demand.electricity_kw": np.arange(12.0), "price.day_ahead_eur_per_mwh": np.arange(12.0)},
        index=pd.date_range(T0, periods=12, freq="5min"),
    )
    out = resample_to(frame, horizon_index(T0, 4, 15), path="p.csv")
    assert out["demand.electricity_kw"].tolist() == [1.0, 4.0, 7.0, 10.0]
    assert out["price.day_ahead_eur_per_mwh"].tolist() == [1.0, 4.0, 7.0, 10.0]
    assert list(out.index) == list(horizon_index(T0, 4, 15))


def test_same_resolution_is_a_plain_selection():
    frame = pd.DataFrame(
        {"demand.heat_kw": np.arange(8.0)}, index=pd.date_range(T0, periods=8, freq="15min")
    )
    out = resample_to(frame, horizon_index(T0 + pd.Timedelta("30min"), 3, 15), path="p.csv")
    assert out["demand.heat_kw"].tolist() == [2.0, 3.0, 4.0]


@pytest.mark.parametrize(
    ("freq", "message"),
    [
        ("20min", "resolution 0:20:00 is not a multiple of 0:15:00"),
        ("10min", "resolution 0:10:00 does not divide the step 0:15:00"),
    ],
)
def test_incompatible_resolutions_are_refused(freq, message):
    frame = pd.DataFrame(
        {"demand.heat_kw": np.arange(12.0)}, index=pd.date_range(T0, periods=12, freq=freq)
    )
    with pytest.raises(SiteError) as info:
        resample_to(frame, horizon_index(T0, 4, 15), path="p.csv")
    assert info.value.problems == [Problem("p.csv", "", message)]


def test_a_horizon_beyond_the_file_is_refused():
    frame = hourly(**{"demand.heat_kw": [1.0, 2.0, 3.0]})
    with pytest.raises(SiteError) as info:
        resample_to(frame, horizon_index(T0, 13, 15), path="p.csv")
    assert str(info.value) == (
        "p.csv: covers 2024-03-12T00:00:00+00:00 to 2024-03-12T03:00:00+00:00, but "
        "2024-03-12T00:00:00+00:00 to 2024-03-12T03:15:00+00:00 is needed "
        "(extend the series or choose another period)"
    )


# --- local time in files: the 23- and 25-hour days -----------------------------------------------


def local_day_csv(day: str) -> tuple[str, int]:
    """Quarter-hours of one local day in Berlin, stamped in local time with the UTC offset."""
    first = pd.Timestamp(day).tz_localize(BERLIN)
    end = (pd.Timestamp(day) + pd.Timedelta(days=1)).tz_localize(BERLIN)
    stamps = pd.date_range(first, end, freq="15min", inclusive="left")
    lines = ["timestamp,heat_kw,price_eur_mwh"]
    lines += [f"{ts.isoformat()},{500 + i},{40 + i % 4}" for i, ts in enumerate(stamps)]
    return "\n".join(lines) + "\n", len(stamps)


@pytest.mark.parametrize(
    ("day", "hours", "offsets"),
    [("2024-03-31", 23, {"+01:00", "+02:00"}), ("2024-10-27", 25, {"+02:00", "+01:00"})],
    ids=["spring_forward_23h", "fall_back_25h"],
)
def test_daylight_saving_days_load_with_the_right_number_of_intervals(
    write_site, tmp_path, day, hours, offsets
):
    text, rows = local_day_csv(day)
    assert rows == hours * 4
    assert {line.split(",")[0][-6:] for line in text.splitlines()[1:]} == offsets
    series = [
        {
            "file": "series.csv",
            "columns": {
                "heat_kw": "demand.heat_kw",
                "price_eur_mwh": "price.day_ahead_eur_per_mwh",
            },
        }
    ]
    site = load_site(write_site(tmp_path, csv=text, series=series))

    frame = read_series_file(site.series[0], site.base_dir)
    assert len(frame) == hours * 4
    assert not frame.index.has_duplicates
    assert frame.index.is_monotonic_increasing
    assert str(frame.index.tz) == "UTC"

    first = date.fromisoformat(day)
    assert default_period(site) == (first, date.fromordinal(first.toordinal() + 1))
    start = local_midnight_utc(first, BERLIN)
    forecast = load_forecast(site, start, hours * 4)
    assert len(forecast) == hours * 4
    assert not forecast.index.has_duplicates
    assert forecast["demand.heat_kw"].tolist() == [500.0 + i for i in range(hours * 4)]

    report = check_site(site)
    assert report.errors == []
    assert report.summary["period"] == [day, str(default_period(site)[1])]


def test_local_wall_clock_repeats_on_the_fall_back_day_but_utc_does_not():
    text, _ = local_day_csv("2024-10-27")
    stamps = [line.split(",")[0] for line in text.splitlines()[1:]]
    walls = [s[:16] for s in stamps]
    assert walls.count("2024-10-27T02:15") == 2
    assert pd.DatetimeIndex(pd.to_datetime(stamps, utc=True)).is_unique


def test_series_file_columns_are_renamed_to_forecast_names(tmp_path):
    (tmp_path / "s.csv").write_text(
        "time,p\n2024-03-12T00:00Z,1.5\n2024-03-12T00:15Z,2.5\n", encoding="utf-8"
    )
    sf = SeriesFile(file="s.csv", timestamp_column="time", columns={"p": "demand.heat_kw"})
    frame = read_series_file(sf, tmp_path)
    assert list(frame.columns) == ["demand.heat_kw"]
    assert frame["demand.heat_kw"].tolist() == [1.5, 2.5]


def test_forecast_carries_critical_shares_and_the_price_flag(write_site, tmp_path):
    site = load_site(write_site(tmp_path))
    forecast = load_forecast(site, local_midnight_utc(date(2024, 3, 12), BERLIN), 96)
    assert len(forecast) == 96
    assert (forecast["demand.heat_critical_pu"] == 1.0).all()
    assert not forecast["price.is_forecast"].any()
    assert forecast["price.day_ahead_eur_per_mwh"].iloc[:4].tolist() == [50.0] * 4


# --- --start: local times at the site ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2024-03-12", "2024-03-11T23:00:00+00:00"),
        ("2024-03-12T06:00", "2024-03-12T05:00:00+00:00"),
        ("2024-07-01T06:00", "2024-07-01T04:00:00+00:00"),
        ("2024-03-31T03:00", "2024-03-31T01:00:00+00:00"),
        ("2024-10-27T02:30+02:00", "2024-10-27T00:30:00+00:00"),
        ("2024-10-27T02:30+01:00", "2024-10-27T01:30:00+00:00"),
        ("2024-03-12T06:00Z", "2024-03-12T06:00:00+00:00"),
    ],
)
def test_parse_local_start(text, utc):
    ts = parse_local_start(text, BERLIN)
    assert ts.isoformat() == utc
    assert str(ts.tz) == "UTC"


def test_nonexistent_local_start_is_refused():
    with pytest.raises(SiteError) as info:
        parse_local_start("2024-03-31T02:30", BERLIN)
    assert info.value.problems == [
        Problem(
            "--start",
            "",
            "2024-03-31T02:30 does not exist in Europe/Berlin "
            "(the clocks skip it: daylight saving starts)",
            "choose a time outside the skipped hour, or give a UTC offset",
        )
    ]


def test_ambiguous_local_start_is_refused_naming_both_instants():
    with pytest.raises(SiteError) as info:
        parse_local_start("2024-10-27T02:30", BERLIN, option="--from")
    assert info.value.problems == [
        Problem(
            "--from",
            "",
            "2024-10-27T02:30 is ambiguous in Europe/Berlin "
            "(it occurs twice: daylight saving ends)",
            "give a UTC offset: 2024-10-27T02:30:00+02:00 is the first, "
            "2024-10-27T02:30:00+01:00 the second",
        )
    ]


def test_start_that_is_not_a_date_is_refused():
    with pytest.raises(SiteError, match="'soon' is not a date or date-time"):
        parse_local_start("soon", BERLIN)


# --- --horizon: durations in site steps ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "step_min", "steps"),
    [
        ("48h", 15, 192),
        ("90min", 15, 6),
        ("7d", 15, 672),
        ("1.5h", 15, 6),
        (" 2h ", 15, 8),
        ("15min", 15, 1),
        ("2h", 60, 2),
        ("10min", 5, 2),
    ],
)
def test_parse_duration_steps(text, step_min, steps):
    assert parse_duration_steps(text, step_min) == steps


@pytest.mark.parametrize(
    ("text", "step_min", "message"),
    [
        ("7x", 15, "'7x' is not a duration (use e.g. 90min, 48h or 7d)"),
        ("", 15, "'' is not a duration (use e.g. 90min, 48h or 7d)"),
        ("-1h", 15, "'-1h' is not a duration (use e.g. 90min, 48h or 7d)"),
        ("10min", 15, "10min is not a positive multiple of the site step (15 min)"),
        ("90min", 60, "90min is not a positive multiple of the site step (60 min)"),
        ("0h", 15, "0h is not a positive multiple of the site step (15 min)"),
    ],
)
def test_bad_durations_are_refused(text, step_min, message):
    with pytest.raises(SiteError) as info:
        parse_duration_steps(text, step_min)
    assert info.value.problems == [Problem("--horizon", "", message)]


def test_horizon_index_is_utc_at_the_step_and_needs_an_aware_start():
    index = horizon_index(pd.Timestamp("2024-03-12T06:00+01:00"), 3, 15)
    assert [ts.isoformat() for ts in index] == [
        "2024-03-12T05:00:00+00:00",
        "2024-03-12T05:15:00+00:00",
        "2024-03-12T05:30:00+00:00",
    ]
    with pytest.raises(ValueError, match="timezone-aware"):
        horizon_index(pd.Timestamp("2024-03-12T06:00"), 3, 15)
