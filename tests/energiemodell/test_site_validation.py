"""Broken input is refused with exit 2 and one ``FILE: path.to.field: problem (hint)`` per problem.

Each case writes a small site (``write_site``) with one thing broken, then checks both the library
(``load_site`` raises :class:`SiteError` with exactly these problems) and the command line (exit 2,
exactly these lines on stderr, no traceback).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from energiemodell.assets.base import ASSET_TYPES
from energiemodell.errors import Problem, SiteError
from energiemodell.site import FORECAST_COLUMNS, load_site
from energiemodell.validate import check_site
from scheduler.cli import app
from tests.conftest import SMALL_SITE, small_site_csv

runner = CliRunner()

GRID, BOILERS = SMALL_SITE["assets"]
TARIFF = SMALL_SITE["tariffs"][0]
KNOWN_TYPES = ", ".join(sorted(ASSET_TYPES))
UNKNOWN_KEY_HINT = "unknown key: check the spelling against docs/site-format.md"
CHP = {"name": "chp1", "type": "chp", "p_el_max_kw": 100, "eta_el": 0.4, "eta_th": 0.45}


def invoke(*args: object) -> Result:
    """Run the CLI in-process; a command may exit on purpose but never with a traceback."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}"
    )
    assert "Traceback" not in result.output
    return result


def stderr_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def csv_lines() -> list[str]:
    """The small site's series file: header (file line 1), then 24 hourly rows (lines 2-25)."""
    return small_site_csv().splitlines()


def csv_text(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


# --- the site file itself: load_site and validate refuse it --------------------------------------

# (id, write_site arguments, problems as (path, message, hint); the file is the site file)
SITE_CASES: list[tuple[str, dict[str, Any], list[tuple[str, str, str]]]] = [
    (
        "unknown_asset_type",
        {"assets": [GRID, {"name": "b1", "type": "boilr", "q_max_kw": 500}]},
        [("assets.b1.type", "unknown asset type 'boilr'", f"known types: {KNOWN_TYPES}")],
    ),
    (
        "asset_without_type",
        {"assets": [GRID, {"name": "b1", "q_max_kw": 500}]},
        [("assets.b1.type", "the asset has no type", f"known types: {KNOWN_TYPES}")],
    ),
    (
        "negative_capacity",
        {"assets": [GRID, {**BOILERS, "q_max_kw": -5}]},
        [
            (
                "assets.boilers.q_max_kw",
                "Input should be greater than 0, not -5",
                "use a positive value",
            )
        ],
    ),
    (
        "efficiency_above_one",
        {"assets": [GRID, {**CHP, "eta_el": 1.2}]},
        [
            (
                "assets.chp1.eta_el",
                "Input should be less than or equal to 1, not 1.2",
                "use a smaller value",
            )
        ],
    ),
    (
        "min_load_above_max",
        {"assets": [GRID, {**CHP, "p_el_min_pu": 1.5}]},
        [
            (
                "assets.chp1.p_el_min_pu",
                "Input should be less than or equal to 1, not 1.5",
                "a _pu value is a fraction of the rated value, from 0 to 1",
            )
        ],
    ),
    (
        "efficiencies_sum_above_one",
        {"assets": [GRID, {**CHP, "eta_el": 0.6, "eta_th": 0.5}]},
        [("assets.chp1", "eta_el + eta_th = 1.10 exceeds 1", "")],
    ),
    (
        "misspelled_asset_key",
        {"assets": [GRID, {**BOILERS, "q_maxkw": 1000}]},
        [
            ("assets.boilers.q_maxkw", "Extra inputs are not permitted", UNKNOWN_KEY_HINT),
        ],
    ),
    (
        "misspelled_top_level_key",
        {"tarifs": [TARIFF]},
        [("tarifs", "Extra inputs are not permitted", UNKNOWN_KEY_HINT)],
    ),
    (
        "missing_required_fields",
        {"assets": [GRID, {"name": "b1", "type": "boiler"}]},
        [
            ("assets.b1.q_max_kw", "Field required", "add this required field"),
            ("assets.b1.eta", "Field required", "add this required field"),
        ],
    ),
    (
        "duplicate_asset_names",
        {"assets": [GRID, BOILERS, {**BOILERS, "units": 1}]},
        [("assets", "duplicate asset names: boilers", "give every asset its own name")],
    ),
    (
        "device_bound_to_missing_asset",
        {"devices": [{"name": "meter1", "map": "x", "host": "10.0.0.5", "asset": "chp9"}]},
        [
            (
                "devices.meter1.asset",
                "device 'meter1' is bound to asset 'chp9', which does not exist",
                "assets: grid, boilers",
            )
        ],
    ),
    (
        "unknown_time_zone",
        {"timezone": "Europe/Berln"},
        [
            (
                "timezone",
                "unknown time zone 'Europe/Berln' (use an IANA name such as Europe/Berlin)",
                "",
            )
        ],
    ),
    (
        "overlapping_tariff_periods",
        {"tariffs": [TARIFF, {**TARIFF, "valid_from": "2024-06-01", "valid_to": "2025-06-01"}]},
        [
            (
                "tariffs",
                "tariff periods overlap: 2024-01-01..2025-01-01 and 2024-06-01..2025-06-01",
                "valid_to is exclusive: the next period may start on that date",
            )
        ],
    ),
    (
        "unknown_forecast_column",
        {"series": [{"file": "series.csv", "columns": {"heat_kw": "demand.hot_kw"}}]},
        [
            (
                "series.0.columns",
                f"unknown Forecast column 'demand.hot_kw'; known: {', '.join(FORECAST_COLUMNS)}",
                "",
            )
        ],
    ),
    (
        "yaml_syntax_error",
        {"raw": "name: broken\nassets: [\n  - name: grid\n"},
        [("line 3, column 3", "YAML syntax error: expected the node content, but found '-'", "")],
    ),
    (
        "empty_file",
        {"raw": ""},
        [("", "the site file is empty", "see docs/site-format.md")],
    ),
    (
        "site_is_a_list",
        {"raw": "- name: grid\n- name: boilers\n"},
        [("", "the site file is a list, not a mapping", "see docs/site-format.md")],
    ),
]


@pytest.mark.parametrize(
    ("kwargs", "expected"), [c[1:] for c in SITE_CASES], ids=[c[0] for c in SITE_CASES]
)
def test_load_site_names_file_field_problem_and_hint(write_site, tmp_path, kwargs, expected):
    site_file = write_site(tmp_path, **kwargs)
    with pytest.raises(SiteError) as info:
        load_site(site_file)
    assert info.value.problems == [Problem(str(site_file), *p) for p in expected]


@pytest.mark.parametrize(
    ("kwargs", "expected"), [c[1:] for c in SITE_CASES], ids=[c[0] for c in SITE_CASES]
)
def test_validate_exits_2_with_one_line_per_problem(write_site, tmp_path, kwargs, expected):
    site_file = write_site(tmp_path, **kwargs)
    result = invoke("validate", site_file)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert stderr_lines(result) == [str(Problem(str(site_file), *p)) for p in expected]


def test_problem_line_shape():
    assert str(Problem("a/site.yaml", "assets.chp1.eta_el", "too high", "use 0..1")) == (
        "a/site.yaml: assets.chp1.eta_el: too high (use 0..1)"
    )
    assert str(Problem("a/site.yaml", "", "the site file is empty")) == (
        "a/site.yaml: the site file is empty"
    )


def test_missing_site_file_lists_shipped_sites(tmp_path):
    missing = tmp_path / "nope.yaml"
    result = invoke("validate", missing)
    assert result.exit_code == 2
    assert stderr_lines(result) == [
        f"{missing}: no such file, and not a shipped site (shipped: reference_campus) "
        "(give a path to a site YAML file)"
    ]


# --- series files: the site loads, validate refuses the data -------------------------------------


def _drop_row(lines: list[str], i: int) -> list[str]:
    return lines[:i] + lines[i + 1 :]


def _set_price(lines: list[str], i: int, value: str) -> list[str]:
    return [*lines[:i], lines[i].rsplit(",", 1)[0] + "," + value, *lines[i + 1 :]]


# (id, csv lines -> csv lines, column named in the path, message, hint)
SERIES_CASES = [
    (
        "gap",
        lambda lines: _drop_row(lines, 5),
        "timestamp",
        "row 6: gap before 2024-03-12T04:00:00+00:00 (2:00:00 after the previous row; "
        "the file's step is 1:00:00)",
        "the series must be regular without gaps",
    ),
    (
        "nan_value",
        lambda lines: _set_price(lines, 7, "nan"),
        "price_eur_mwh",
        "row 8: value 'nan' is missing or not a number",
        "fill the gap in the source data",
    ),
    (
        "empty_value",
        lambda lines: _set_price(lines, 9, ""),
        "price_eur_mwh",
        "row 10: value '' is missing or not a number",
        "fill the gap in the source data",
    ),
    (
        "duplicated_timestamp",
        lambda lines: [*lines[:5], lines[4], *lines[5:]],
        "timestamp",
        "row 6: duplicated timestamp 2024-03-12T02:00:00+00:00 (after UTC conversion)",
        "each interval must appear once",
    ),
    (
        "unordered_timestamps",
        lambda lines: [*lines[:4], lines[5], lines[4], *lines[6:]],
        "timestamp",
        "row 6: timestamp 2024-03-12T02:00:00+00:00 is not after the previous one",
        "sort the file by time",
    ),
    (
        "missing_column",
        lambda lines: [line.rsplit(",", 1)[0] for line in lines],
        "",
        "missing column(s) price_eur_mwh; the file has timestamp, electricity_kw, heat_kw",
        "fix the header or the site's series.columns",
    ),
    (
        "timestamp_without_utc_offset",
        lambda lines: [lines[0], *(line.replace("+01:00", "") for line in lines[1:])],
        "timestamp",
        "row 2: timestamp '2024-03-12T00:00:00' has no UTC offset",
        "write 2024-01-01T00:00:00Z or ...+01:00",
    ),
    (
        "header_only",
        lambda lines: lines[:1],
        "",
        "the file has a header but no rows",
        "",
    ),
]


@pytest.mark.parametrize(
    ("edit", "path", "message", "hint"),
    [c[1:] for c in SERIES_CASES],
    ids=[c[0] for c in SERIES_CASES],
)
def test_broken_series_file_is_refused(write_site, tmp_path, edit, path, message, hint):
    site_file = write_site(tmp_path, csv=csv_text(edit(csv_lines())))
    expected = Problem(str((tmp_path / "series.csv").resolve()), path, message, hint)
    assert check_site(load_site(site_file)).errors == [expected]
    result = invoke("validate", site_file)
    assert result.exit_code == 2
    assert stderr_lines(result) == [str(expected)]
    assert "period unknown" in result.stdout  # the summary still prints, without a period


def test_missing_series_file(write_site, tmp_path):
    series = [{"file": "data/nope.csv", "columns": {"heat_kw": "demand.heat_kw"}}]
    site_file = write_site(tmp_path, series=series)
    result = invoke("validate", site_file)
    assert result.exit_code == 2
    missing = (tmp_path / "data" / "nope.csv").resolve()
    assert stderr_lines(result) == [f"{missing}: series file not found (check series[].file)"]


def test_series_not_covering_the_period(write_site, tmp_path):
    site_file = write_site(tmp_path)
    result = invoke("validate", site_file, "--period", "2024-03-12", "2024-03-14")
    assert result.exit_code == 2
    series = (tmp_path / "series.csv").resolve()
    assert stderr_lines(result) == [
        f"{series}: covers 2024-03-11T23:00:00+00:00 to 2024-03-12T23:00:00+00:00, but "
        "2024-03-11T23:00:00+00:00 to 2024-03-13T23:00:00+00:00 is needed "
        "(extend the series or choose another period)"
    ]


def test_no_tariff_for_the_period(write_site, tmp_path):
    old = {**TARIFF, "valid_from": "2023-01-01", "valid_to": "2024-01-01"}
    site_file = write_site(tmp_path, tariffs=[old])
    result = invoke("validate", site_file)
    assert result.exit_code == 2
    assert stderr_lines(result) == [
        f"{site_file}: tariffs: no tariff period covers 2024-03-12 (add or extend a period)"
    ]


@pytest.mark.parametrize(
    ("period", "message"),
    [
        (("2024-13-01", "2024-03-14"), "--period: '2024-13-01' is not a date (use YYYY-MM-DD)"),
        (("2024-03-13", "2024-03-12"), "--period: end 2024-03-12 is not after start 2024-03-13"),
    ],
    ids=["not_a_date", "reversed"],
)
def test_bad_period(write_site, tmp_path, period, message):
    result = invoke("validate", write_site(tmp_path), "--period", *period)
    assert result.exit_code == 2
    assert stderr_lines(result) == [message]


# --- optimise: local start times, horizons and the plant state are checked before solving --------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--start", "2024-03-31T02:30"],
            "--start: 2024-03-31T02:30 does not exist in Europe/Berlin (the clocks skip it: "
            "daylight saving starts) "
            "(choose a time outside the skipped hour, or give a UTC offset)",
        ),
        (
            ["--start", "2024-10-27T02:30"],
            "--start: 2024-10-27T02:30 is ambiguous in Europe/Berlin (it occurs twice: daylight "
            "saving ends) (give a UTC offset: 2024-10-27T02:30:00+02:00 is the first, "
            "2024-10-27T02:30:00+01:00 the second)",
        ),
        (
            ["--start", "yesterday"],
            "--start: 'yesterday' is not a date or date-time (use 2024-03-12 or 2024-03-12T06:00)",
        ),
        (
            ["--start", "2024-03-12", "--horizon", "7x"],
            "--horizon: '7x' is not a duration (use e.g. 90min, 48h or 7d)",
        ),
        (
            ["--start", "2024-03-12", "--horizon", "10min"],
            "--horizon: 10min is not a positive multiple of the site step (15 min)",
        ),
        (
            ["--start", "2024-03-12", "--horizon", "0h"],
            "--horizon: 0h is not a positive multiple of the site step (15 min)",
        ),
    ],
    ids=[
        "nonexistent_start",
        "ambiguous_start",
        "start_not_a_date",
        "horizon_7x",
        "horizon_10min",
        "horizon_zero",
    ],
)
def test_optimise_refuses_bad_options(write_site, tmp_path, options, message):
    result = invoke("optimise", write_site(tmp_path), *options)
    assert result.exit_code == 2
    assert stderr_lines(result) == [message]
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "cannot read the state file: [Errno 2] No such file or directory: '{path}'"),
        ('{"peak_import_kw": ', "invalid JSON at line 1, column 20: Expecting value"),
        ('{"peak_import_kw": -1}', "peak_import_kw: Input should be greater than or equal to 0"),
        ('{"storage": {}}', "storage: Extra inputs are not permitted"),
    ],
    ids=["missing", "bad_json", "negative_peak", "unknown_key"],
)
def test_optimise_refuses_bad_state(write_site, tmp_path, text, message):
    state = tmp_path / "state.json"
    if text is not None:
        state.write_text(text, encoding="utf-8")
    result = invoke("optimise", write_site(tmp_path), "--start", "2024-03-12", "--state", state)
    assert result.exit_code == 2
    assert stderr_lines(result) == [f"{state}: " + message.format(path=state)]


# --- --strict and --json -------------------------------------------------------------------------

N1_WARNING = (
    "security.heat_n1: heat supply is not N-1 secure at the period's peak demand "
    "(800 kW > 0 kW without the largest unit, storage not counted) (add capacity or storage)"
)


def test_warning_passes_without_strict_and_fails_with_it(write_site, tmp_path):
    site_file = write_site(tmp_path, assets=[GRID, {**BOILERS, "units": 1}])
    relaxed = invoke("validate", site_file)
    assert relaxed.exit_code == 0
    assert stderr_lines(relaxed) == [f"warning: {site_file}: {N1_WARNING}"]
    assert "heat: peak 800 kW, 0 kW without the largest unit: NOT N-1 secure" in relaxed.stdout
    strict = invoke("validate", site_file, "--strict")
    assert strict.exit_code == 2
    assert stderr_lines(strict) == [f"warning: {site_file}: {N1_WARNING}"]


def test_n1_secure_site_has_no_warning(write_site, tmp_path):
    result = invoke("validate", write_site(tmp_path), "--strict")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert "heat: peak 800 kW, 1000 kW without the largest unit: N-1 secure" in result.stdout


def test_json_is_one_object_with_valid(write_site, tmp_path):
    site_file = write_site(tmp_path)
    result = invoke("validate", site_file, "--json")
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert out["valid"] is True
    assert out["errors"] == []
    assert out["warnings"] == []
    assert out["site"] == "small_site"
    assert out["period"] == ["2024-03-12", "2024-03-13"]
    assert out["assets"]["boilers"] == {"type": "boiler", "heat": 2000.0}
    assert out["security"]["heat"]["n1_secure_at_peak"] is True


def test_json_strict_warning_is_invalid(write_site, tmp_path):
    site_file = write_site(tmp_path, assets=[GRID, {**BOILERS, "units": 1}])
    result = invoke("validate", site_file, "--json", "--strict")
    assert result.exit_code == 2
    out = json.loads(result.stdout)
    assert out["valid"] is False
    assert out["errors"] == []
    assert out["warnings"] == [f"{site_file}: {N1_WARNING}"]


def test_json_with_series_error_is_still_one_object(write_site, tmp_path):
    site_file = write_site(tmp_path, csv=csv_text(_set_price(csv_lines(), 7, "nan")))
    result = invoke("validate", site_file, "--json")
    assert result.exit_code == 2
    out = json.loads(result.stdout)
    assert out["valid"] is False
    assert out["period"] is None
    series = (tmp_path / "series.csv").resolve()
    assert out["errors"] == [
        f"{series}: price_eur_mwh: row 8: value 'nan' is missing or not a number "
        "(fill the gap in the source data)"
    ]


# --- the valid sites -----------------------------------------------------------------------------


def test_small_site_is_valid(write_site, tmp_path):
    site = load_site(write_site(tmp_path))
    report = check_site(site)
    assert report.errors == []
    assert report.warnings == []
    assert report.summary["series_coverage"]["demand.heat_kw"] == [
        "2024-03-11T23:00:00+00:00",
        "2024-03-12T23:00:00+00:00",
    ]


def test_reference_campus_checks_clean_for_a_week(reference_site):
    report = check_site(reference_site, (date(2024, 3, 11), date(2024, 3, 18)))
    assert report.errors == []
    assert report.warnings == []
    assert report.summary["security"]["heat"]["n1_secure_at_peak"] is True
    assert set(report.summary["assets"]) == {a.name for a in reference_site.assets}


def test_write_site_writes_the_documented_small_site(write_site, tmp_path):
    site_file = write_site(tmp_path, name="renamed", description=None)
    site = load_site(site_file)
    assert site.name == "renamed"
    assert [a.type for a in site.assets] == ["grid", "boiler"]
    assert Path(site.base_dir) == tmp_path


def test_demo_outside_the_reference_data_exits_2():
    result = invoke("demo", "--start", "2030-01-01")
    assert result.exit_code == 2
    [line] = stderr_lines(result)
    assert line.endswith(
        "campus_loads.csv.gz: covers 2024-01-01T00:00:00+00:00 to 2025-01-01T00:00:00+00:00, but "
        "2029-12-31T23:00:00+00:00 to 2030-01-01T23:00:00+00:00 is needed "
        "(extend the series or choose another period)"
    )
