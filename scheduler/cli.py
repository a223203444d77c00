"""The ``energiemodell`` command line: every command of docs/cli.md.

Exit codes: 0 done, 1 failed or refused at run time, 2 bad input, 3 no plan.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from energiemodell.errors import EnergiemodellError, SiteError
from energiemodell.model.compare import Comparison, compare_with_heat_led
from energiemodell.model.planner import Planner
from energiemodell.model.schedule import Schedule
from energiemodell.site import Site, load_site
from energiemodell.state import PlantState, load_state
from energiemodell.timeseries import (
    load_forecast,
    parse_duration_steps,
    parse_local_start,
    read_series_file,
    resample_to,
)
from energiemodell.validate import check_site
from scheduler.cli_db import db_app
from scheduler.cli_demo import demo
from scheduler.cli_devices import devices_app
from scheduler.cli_import import import_app
from scheduler.cli_operator import alarms_app, approve, override_app, reject
from scheduler.cli_run import release, run
from scheduler.cli_scenario import scenario_app
from scheduler.cli_serve import serve
from scheduler.cli_simulate import simulate
from scheduler.cli_users import users_app

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_NO_PLAN = 0, 1, 2, 3

app = typer.Typer(
    name="energiemodell",
    help="Energy dispatch optimisation for hospital campuses.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(devices_app, name="devices")
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(scenario_app, name="scenario")
app.command()(simulate)
app.command()(run)
app.command()(release)
app.command()(demo)
app.command()(serve)
app.add_typer(users_app, name="users")
app.command()(approve)
app.command()(reject)
app.add_typer(override_app, name="override")
app.add_typer(alarms_app, name="alarms")

logger = logging.getLogger(__name__)


@app.callback()
def _main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log progress to stderr")
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def fail_input(problems: EnergiemodellError | str) -> typer.Exit:
    """Print bad-input messages to stderr; the caller raises the returned exit (code 2)."""
    typer.echo(str(problems), err=True)
    return typer.Exit(EXIT_INPUT)


def load_site_or_exit(ref: str) -> Site:
    """Load a site or exit 2 with its problems."""
    try:
        return load_site(ref)
    except SiteError as exc:
        raise fail_input(exc) from None


def _parse_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        msg = f"{option}: {text!r} is not a date (use YYYY-MM-DD)"
        raise fail_input(msg) from None


@app.command()
def validate(
    site: Annotated[str, typer.Argument(help="Site file, directory or shipped name")],
    period: Annotated[
        tuple[str, str] | None,
        typer.Option(help="Local dates START END (end exclusive); default: what the series cover"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    strict: Annotated[bool, typer.Option(help="Fail on warnings too")] = False,
) -> None:
    """Validate a site and print a plant summary (exit 2 on invalid input)."""
    s = load_site_or_exit(site)
    span = None
    if period is not None:
        span = (_parse_date(period[0], "--period"), _parse_date(period[1], "--period"))
    report = check_site(s, span)
    from connectors import check_site_devices

    device_problems = check_site_devices(s)
    errors = [str(p) for p in report.errors] + device_problems
    warnings = [str(p) for p in report.warnings]
    failed = bool(errors) or (strict and bool(warnings))
    if as_json:
        out = {**report.summary, "valid": not failed, "errors": errors, "warnings": warnings}
        typer.echo(json.dumps(out, indent=2))
    else:
        _print_site_summary(report.summary)
        for w in warnings:
            typer.echo(f"warning: {w}", err=True)
        for e in errors:
            typer.echo(e, err=True)
    if failed:
        raise typer.Exit(EXIT_INPUT)


def _print_site_summary(summary: dict[str, Any]) -> None:
    echo = typer.echo
    span = summary["period"]
    period = f"period {span[0]} to {span[1]}" if span else "period unknown"
    echo(
        f"site {summary['site']} ({summary['file']}), {summary['timezone']}, "
        f"{summary['step_min']}-min steps, {period}"
    )
    echo("assets:")
    for name, caps in summary["assets"].items():
        parts = ", ".join(
            f"{k} {v:g} kW" if k != "storage_kwh" else f"{v:g} kWh storage"
            for k, v in caps.items()
            if k != "type"
        )
        echo(f"  {name:<16} {caps['type']:<20} {parts}")
    for carrier, sec in summary["security"].items():
        ok = "N-1 secure" if sec["n1_secure_at_peak"] else "NOT N-1 secure"
        echo(
            f"{carrier}: peak {sec['peak_demand_kw']:g} kW, "
            f"{sec['capacity_without_largest_unit_kw']:g} kW without the largest unit: {ok}"
        )
    echo("tariffs:")
    for t in summary["tariffs"]:
        echo(
            f"  {t['valid_from']}..{t['valid_to']}: {t['energy_price']} + "
            f"{t['import_adders_eur_per_mwh']:g} EUR/MWh, demand charge "
            f"{t['demand_charge_eur_per_kw_a']:g} EUR/kW/a, gas {t['gas_eur_per_mwh']:g} EUR/MWh"
        )
    echo("series coverage (UTC):")
    for col, (a, b) in summary["series_coverage"].items():
        echo(f"  {col:<32} {a} .. {b}")
    echo(f"devices: {summary['devices']}")


@app.command()
def optimise(
    site: Annotated[str, typer.Argument(help="Site file, directory or shipped name")],
    start: Annotated[str, typer.Option(help="Local start at the site: 2024-03-12[T06:00]")],
    horizon: Annotated[str, typer.Option(help="<n>min|h|d, a multiple of the step")] = "48h",
    state: Annotated[Path | None, typer.Option(help="PlantState JSON")] = None,
    forecast: Annotated[
        Path | None, typer.Option(help="Forecast CSV (timestamp + Forecast columns)")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write schedule.csv/json, summary.json")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    heat_led: Annotated[
        bool, typer.Option("--heat-led/--no-heat-led", help="Compare with the heat-led rules")
    ] = True,
) -> None:
    """Plan the dispatch over a horizon and print the plan summary."""
    s = load_site_or_exit(site)
    try:
        t0 = parse_local_start(start, s.timezone)
        n = parse_duration_steps(horizon, s.step_min)
        plant = load_state(state) if state else PlantState()
        fc = _forecast_file(s, forecast, t0, n) if forecast else load_forecast(s, t0, n)
    except SiteError as exc:
        raise fail_input(exc) from None
    try:
        schedule = Planner(s, n).plan(fc, plant)
    except EnergiemodellError as exc:
        typer.echo(f"no plan: {exc}", err=True)
        raise typer.Exit(EXIT_NO_PLAN) from None
    summary = schedule.summary()
    comparison = None
    if heat_led and schedule.origin != "none":
        comparison = compare_with_heat_led(s, fc, plant, schedule)
        summary["heat_led"] = comparison.as_dict()
    if out is not None and schedule.origin != "none":
        schedule.write(out, s.timezone)
        if comparison is not None:
            (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        print_plan_summary(schedule, s)
        if comparison is not None:
            print_comparison(comparison)
    if schedule.origin == "none":
        raise typer.Exit(EXIT_NO_PLAN)


def print_comparison(c: Comparison) -> None:
    """The plan against the heat-led rules, by category."""
    typer.echo(
        f"heat-led rules on the same forecast: cost {c.heat_led.cost_eur:,.2f} EUR, "
        f"penalties {c.heat_led.penalty_eur:,.2f} EUR; the plan saves {c.savings_eur:,.2f} EUR"
    )
    for k, v in sorted(c.savings_by_category.items(), key=lambda kv: -abs(kv[1])):
        if abs(v) >= 0.005:
            typer.echo(f"  {k:<26} {v:>12,.2f} EUR saved")


def _forecast_file(site: Site, path: Path, start: Any, n: int) -> Any:
    """A Forecast from a CSV with a ``timestamp`` column and Forecast column names."""
    import pandas as pd

    from energiemodell.site import FORECAST_COLUMNS, SeriesFile
    from energiemodell.timeseries import horizon_index

    try:
        header = pd.read_csv(path, nrows=0).columns
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise SiteError.one(str(path), "", f"cannot read the forecast: {exc}") from None
    cols = {c: c for c in header if c in FORECAST_COLUMNS}
    if not cols:
        msg = f"no Forecast columns; expected some of {', '.join(FORECAST_COLUMNS)}"
        raise SiteError.one(str(path), "", msg)
    frame = read_series_file(SeriesFile(file=str(path.resolve()), columns=cols), Path())
    res = resample_to(frame, horizon_index(start, n, site.step_min), path=str(path))
    base = load_forecast(site, start, n) if site.series else pd.DataFrame(index=res.index)
    for c in res.columns:
        base[c] = res[c].to_numpy()
    return base


def print_plan_summary(schedule: Schedule, site: Site) -> None:
    """Human-readable plan summary."""
    echo = typer.echo
    d = schedule.summary()
    idx = pd.DatetimeIndex(schedule.frame.index)
    if len(idx):
        local = idx.tz_convert(site.timezone)
        end = local[-1] + pd.Timedelta(minutes=site.step_min)
        echo(
            f"plan for {site.name}: {local[0]:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} "
            f"{site.timezone}, {len(idx)} intervals"
        )
    gap = "-" if d["mip_gap"] is None else f"{100 * d['mip_gap']:.3f} %"
    echo(
        f"status {d['status']} (origin {d['origin']}), MIP gap {gap}, "
        f"build {d['build_s']:.2f} s, solve {d['solve_s']:.2f} s, extract {d['extract_s']:.2f} s"
    )
    if schedule.origin == "none":
        for a in schedule.alarms:
            echo(f"ALARM: {a}")
        return
    echo(
        f"cost {d['cost_eur']:,.2f} EUR, penalties {d['penalty_eur']:,.2f} EUR, "
        f"CO2 {d['co2_t']:.2f} t, peak import {d['peak_import_kw']:.0f} kW, "
        f"unserved {d['unserved_kwh']:.1f} kWh"
    )
    for k, v in sorted(d["costs"].items(), key=lambda kv: -abs(kv[1])):
        if abs(v) >= 0.005:
            echo(f"  {k:<26} {v:>12,.2f} EUR")
    kp = d["kpis"]
    for k in sorted(kp):
        if k.startswith(("full_load_hours.", "starts.", "cycles.")):
            echo(f"  {k:<26} {kp[k]:>12.2f}")
    echo(f"  {'self_supply_pu':<26} {kp.get('self_supply_pu', 0.0):>12.3f}")
    for a in schedule.alarms:
        echo(f"ALARM: {a}")
