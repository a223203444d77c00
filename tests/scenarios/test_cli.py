"""``energiemodell scenario run|compare`` through the typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from energiemodell.model.solve import HighsSolver
from scenarios.runner import ScenarioResult
from scheduler.cli_scenario import scenario_app
from tests.scenarios.conftest import SMOKE, write_scenario

app = typer.Typer()
app.add_typer(scenario_app, name="scenario")


@pytest.fixture
def no_solver(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any solve fails the test: bad input must be refused before the solver runs."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        pytest.fail("the solver ran for a broken scenario")

    monkeypatch.setattr(HighsSolver, "solve", refuse)


BROKEN = [
    (
        {"path": "assets.chp9.p_el_max_kw", "set": 900},
        ["changes.0: assets.chp9.p_el_max_kw", "no entry named 'chp9'", "chp1"],
    ),
    (
        {"path": "assets.chp2.p_el_max_kw", "set": -5},
        ["assets.chp2.p_el_max_kw", "greater than 0"],
    ),
    (
        {"path": "assets.chp2.name", "scale": 1.2},
        ["changes.0: assets.chp2.name", "scale needs a number"],
    ),
    (
        {"path": "tariffs.3.gas.commodity_eur_per_mwh", "scale": 1.3},
        ["changes.0: tariffs.3.gas.commodity_eur_per_mwh", "only 2 entries"],
    ),
    (
        {"path": "assets.tes_heat.volume_m3", "set": 200},
        ["changes.0: assets.tes_heat.volume_m3", "no field 'volume_m3'"],
    ),
    (
        {"path": "assets.chp2.p_el_max_kw", "multiply": 2},
        ["changes.0", "unknown key(s) multiply"],
    ),
    (
        {"availability": {"asset": "chp3", "start": "2024-03-01", "end": "2024-04-01"}},
        ["changes.0: availability.asset", "no asset named 'chp3'"],
    ),
    ({"remove_asset": "chp7"}, ["changes.0: remove_asset chp7", "no asset named 'chp7'"]),
]


@pytest.mark.parametrize(("change", "expected"), BROKEN)
@pytest.mark.usefixtures("no_solver")
def test_broken_change_is_refused_before_any_solve(
    tmp_path: Path, change: dict[str, object], expected: list[str]
) -> None:
    path = write_scenario(tmp_path, {**SMOKE, "changes": [change]})
    res = CliRunner().invoke(app, ["scenario", "run", str(path), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    for text in expected:
        assert text in res.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"strategy": "clairvoyant"}, ["strategy", "perfect_foresight"]),
        ({"period": {"start": "2023-06-01", "end": "2023-06-03"}}, ["period", "not covered"]),
        ({"colour": "blue"}, ["colour", "Extra inputs are not permitted"]),
        (
            {"sweep": {"path": "assets.tes_heat.capacity_kwh", "from": 10}},
            ["sweep", "from, to and step"],
        ),
        ({"rolling": {"commit_h": 0.1}}, ["rolling.commit_h", "multiple of the site step"]),
        (
            {"strategy": "mpc", "forecast": "oracle"},
            ["forecast: Input should be 'profile' or 'persistence'"],
        ),
        ({"forecast": "persistence"}, ["forecast: only the mpc strategy forecasts"]),
    ],
)
@pytest.mark.usefixtures("no_solver")
def test_broken_spec_is_refused(
    tmp_path: Path, patch: dict[str, object], expected: list[str]
) -> None:
    path = write_scenario(tmp_path, {**SMOKE, **patch})
    res = CliRunner().invoke(app, ["scenario", "run", str(path), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    for text in expected:
        assert text in res.output


@pytest.mark.usefixtures("no_solver")
def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, "name: x\nperiod: {start: 2024-03-12\n")
    res = CliRunner().invoke(app, ["scenario", "run", str(path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "YAML syntax error" in res.output
    assert "line" in res.output


@pytest.mark.solver
@pytest.mark.slow
def test_run_writes_outputs_records_the_run_and_compares(
    tmp_path: Path, smoke_result: ScenarioResult
) -> None:
    from energiemodell.store import open_db, scenario_runs_between, upgrade

    doc = {**SMOKE, "name": "hl_cli", "strategy": "heat_led", "changes": []}
    path = write_scenario(tmp_path, doc)
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    db = open_db(url)
    upgrade(db=db)
    out = tmp_path / "run"
    res = CliRunner().invoke(
        app, ["scenario", "run", str(path), "--out", str(out), "--workers", "1", "--db", url]
    )
    assert res.exit_code == 0, res.output
    for name in ("kpis.csv", "kpis.json", "dispatch.parquet", "report.html", "run.json"):
        assert (out / name).stat().st_size > 0
    kpis = pd.read_csv(out / "kpis.csv")
    assert list(kpis["month"]) == ["2024-03", "total"]
    assert (kpis["unserved_kwh"] == 0).all()
    assert kpis["peak_charge_basis"].iloc[0].endswith("x 2/366 days")
    dispatch = pd.read_parquet(out / "dispatch.parquet")
    assert len(dispatch) == 2 * 96
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script src=" not in html  # plotly.js is embedded, nothing from a CDN
    assert html.count("Plotly.newPlot") >= 4
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["executor"] == {"kind": "local", "workers": 1}
    assert run["runs"][0]["windows"] == 2
    rows = scenario_runs_between(
        db=db, start=pd.Timestamp("2000-01-01", tz="UTC"), end=pd.Timestamp("2100-01-01", tz="UTC")
    )
    assert [r.name for r in rows] == ["hl_cli"]
    assert rows[0].kpis["cost_eur"] == pytest.approx(float(kpis["cost_eur"].iloc[-1]))
    db.dispose()

    # compare with the shared perfect-foresight run (gas +30 %), written by the library code
    other = tmp_path / "smoke"
    smoke_result.write(other)
    report = tmp_path / "cmp.html"
    res = CliRunner().invoke(
        app, ["scenario", "compare", str(out), str(other), "--out", str(report)]
    )
    assert res.exit_code == 0, res.output
    line = next(x for x in res.output.splitlines() if x.startswith("smoke (heat-led): cost"))
    delta = float(line.split("delta ")[1].rstrip(")").replace(",", ""))
    base_cost = float(kpis["cost_eur"].iloc[-1])
    other_cost = smoke_result.results[1].kpis["total"]["cost_eur"]
    assert delta == pytest.approx(other_cost - base_cost, abs=0.01)
    assert delta > 0  # the same rules with dearer gas cost more
    assert "<script src=" not in report.read_text(encoding="utf-8")


def test_compare_refuses_a_directory_without_kpis(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        app, ["scenario", "compare", str(tmp_path), "--out", str(tmp_path / "c.html")]
    )
    assert res.exit_code == 2
    assert "no kpis.json" in res.output
