"""``energiemodell demo``: the closed-loop demo on the reference campus's plant simulator.

The lead registers it in ``scheduler/cli.py`` with ``app.command()(demo)``; the run itself
(simulator, control loop, costing) is ``scheduler.demo``. This module holds the command, its
console output and summary files, and ``demo_app``, the dashboard over a demo run's store.
Exit codes as in docs/cli.md: 0 done, 1 failed at run time (missed intervals, unconfirmed
writes), 2 bad input.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from ipaddress import ip_network
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from fastapi import FastAPI
from tqdm import tqdm

from energiemodell.errors import SiteError
from energiemodell.site import Site, load_site
from energiemodell.timeseries import load_forecast, local_midnight_utc, parse_local_start
from scheduler.clock import SimulatedClock
from scheduler.demo import (
    DEMO_FORECASTS,
    DEMO_HORIZON_H,
    DEMO_MIP_GAP_PU,
    DemoRun,
    IntervalCost,
    evaluate_period,
    loop_kpis,
    plant_state_of,
    schedule_kpis,
)
from scheduler.loop import CycleReport
from scheduler.web import WebSettings, create_app, serve_forever

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2


def _fail_input(message: object) -> typer.Exit:
    typer.echo(str(message), err=True)
    return typer.Exit(EXIT_INPUT)


def demo(
    start: Annotated[str, typer.Option(help="Local start date at the site")] = "2024-03-12",
    days: Annotated[int, typer.Option(min=1, max=14, help="Simulated days")] = 1,
    speed: Annotated[
        str, typer.Option(help="max, or a factor of real time (60: one simulated hour a minute)")
    ] = "max",
    serve: Annotated[
        bool,
        typer.Option(
            "--serve/--no-serve", help="Serve the dashboard over the run's store after it"
        ),
    ] = True,
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="Dashboard port on 127.0.0.1 (with --serve)")
    ] = 8080,
    out: Annotated[
        Path | None, typer.Option(help="Run directory (default ./demo-runs/<timestamp>/, kept)")
    ] = None,
    forecast: Annotated[
        str,
        typer.Option(
            help="series: the site's series, which the simulator plays back (a perfect forecast); "
            "profile: energiemodell.forecast.ProfileForecaster; "
            "persistence: energiemodell.forecast.PersistenceForecaster"
        ),
    ] = "series",
) -> None:
    """Run the reference campus for a day: simulator over Modbus TCP, control loop in auto mode."""
    factor = _speed(speed)
    if forecast not in DEMO_FORECASTS:
        msg = f"--forecast: {forecast!r} is not {', '.join(DEMO_FORECASTS)}"
        raise _fail_input(msg)
    site = load_site("reference_campus")
    try:
        t0 = parse_local_start(start, site.timezone)
    except SiteError as exc:
        raise _fail_input(exc) from None
    day = t0.tz_convert(site.timezone).date()
    end = local_midnight_utc(day + timedelta(days=days), site.timezone)
    n = int((end - t0) / pd.Timedelta(minutes=site.step_min))
    try:
        load_forecast(site, t0, n)  # the period must lie inside the reference data
    except SiteError as exc:
        raise _fail_input(exc) from None
    out_dir = out or Path("demo-runs") / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    wall0 = time.monotonic()
    with DemoRun(site, t0, n, out_dir, forecast=forecast) as run:
        _demo_header(run, serve)
        cost = IntervalCost(run.site, sorted({b.column for b in run.deps.bindings}))
        tqdm.monitor_interval = 0  # no monitor thread: the bar is updated every interval anyway
        bar = tqdm(total=n, unit="interval", dynamic_ncols=True, desc="simulated")

        def after(r: CycleReport) -> None:
            at = pd.Timestamp(r.interval_start)
            row = run.written_rows.get(at)
            if row is not None:
                cost.add(r.interval_start, row, plant_state_of(run.sim))
            local = at.tz_convert(site.timezone)
            bar.set_postfix_str(
                f"{local:%Y-%m-%d %H:%M} cost {cost.total_eur:,.0f} EUR solve {r.solve_s:.2f} s "
                f"{r.rung} alarms {len(r.alarms)}"
            )
            for a in r.alarms:
                if a.severity != "info":
                    tqdm.write(f"{local:%H:%M} {a.severity} {a.code}: {a.message}")
            bar.update(1)
            if factor is not None:
                sim_s = (at + pd.Timedelta(minutes=site.step_min) - t0).total_seconds()
                time.sleep(max(0.0, wall0 + sim_s / factor - time.monotonic()))

        reports = run.run(after)
        bar.close()
        summary = _demo_summary(run, reports, cost, time.monotonic() - wall0, site)
    _print_summary(summary)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    pd.DataFrame([_cycle_row(r) for r in reports]).to_csv(out_dir / "cycles.csv", index=False)
    typer.echo(f"run directory: {out_dir} (store.sqlite, summary.json, cycles.csv)")
    if summary["missed_intervals"] or summary["unconfirmed_writes"]:
        raise typer.Exit(EXIT_FAILED)
    if serve:
        app = demo_app(out_dir, end.to_pydatetime())
        typer.echo(
            f"dashboard: http://127.0.0.1:{port}/ (read-only from this machine; "
            "`energiemodell users create NAME --role operator --db sqlite:///"
            f"{out_dir / 'store.sqlite'}` to act as an operator). Ctrl-C stops it."
        )
        serve_forever(app, "127.0.0.1", port)


def demo_app(out_dir: Path, now: datetime) -> FastAPI:
    """The dashboard over a demo run's store, its "now" the end of the simulated period."""
    settings = WebSettings(
        db_url=f"sqlite:///{(out_dir / 'store.sqlite').resolve()}",
        demo=True,
        cookie_secure=False,
        readonly_networks=(ip_network("127.0.0.1/32"), ip_network("::1/128")),
        site="reference_campus",
    )
    return create_app(settings, clock=SimulatedClock(now))


def _speed(text: str) -> float | None:
    if text == "max":
        return None
    try:
        factor = float(text)
    except ValueError:
        factor = -1.0
    if factor <= 0:
        msg = f"--speed: {text!r} is not max or a positive factor"
        raise _fail_input(msg)
    return factor


def _demo_header(run: DemoRun, serve: bool) -> None:
    echo = typer.echo
    tz = run.site.timezone
    first = run.start.tz_convert(tz)
    port = run.server.ports[0] if run.server is not None else None
    echo(
        f"demo: {run.site.name}, {first:%Y-%m-%d %H:%M} {tz}, {run.intervals} intervals, "
        f"simulator on 127.0.0.1:{port} ({len(run.site.devices)} devices, Modbus TCP), mode auto"
    )
    echo(
        f"plans: {DEMO_HORIZON_H:g} h horizon, MIP gap {100 * DEMO_MIP_GAP_PU:g} % (the site plans "
        f"48 h to 0.5 %; shorter so a day runs in minutes), made "
        f"{run.site.control.lead_time_s:g} s ahead"
    )
    if run.forecast == "series":
        echo(
            "forecast: the site's own series, which the simulator plays back: a perfect forecast "
            "(--forecast profile|persistence for energiemodell.forecast's forecasters)"
        )
    else:
        name = DEMO_FORECASTS[run.forecast]
        echo(f"forecast: energiemodell.forecast.{name} on the site's series")
    echo(f"store: {run.out_dir / 'store.sqlite'}")
    if serve:
        echo("dashboard: served over the store when the period has run (--no-serve: not)")


def _demo_summary(
    run: DemoRun, reports: list[CycleReport], cost: IntervalCost, wall_s: float, reference: Site
) -> dict[str, Any]:
    loop = loop_kpis(run, cost.total_eur)
    loop["co2_t"] = cost.co2_t
    others = evaluate_period(reference, run.start, run.intervals, run.start_state)
    rungs: dict[str, int] = {}
    for r in reports:
        rungs[str(r.rung)] = rungs.get(str(r.rung), 0) + 1
    expected = {
        run.start + k * pd.Timedelta(minutes=run.site.step_min) for k in range(run.intervals)
    }
    written = {pd.Timestamp(r.interval_start) for r in reports if r.written}
    return {
        "site": run.site.name,
        "start": run.start.isoformat(),
        "intervals": run.intervals,
        "wall_s": round(wall_s, 1),
        "rungs": rungs,
        "missed_intervals": sorted(t.isoformat() for t in expected - written),
        "unconfirmed_writes": sum(1 for r in reports for w in r.writes if not w.ok),
        "alarms": sum(len(r.alarms) for r in reports),
        "mean_solve_s": round(sum(r.solve_s for r in reports) / max(len(reports), 1), 3),
        "loop": {k: round(v, 3) for k, v in loop.items()},
        "loop_intervals_costed_with_chp_setpoints_only": cost.approximated,
        "loop_intervals_not_costed": cost.failed,
        "heat_led": {k: round(v, 3) for k, v in schedule_kpis(others["heat_led"]).items()},
        "perfect_foresight": {
            k: round(v, 3) for k, v in schedule_kpis(others["perfect_foresight"]).items()
        },
    }


def _print_summary(s: dict[str, Any]) -> None:
    echo = typer.echo
    echo("")
    echo(
        f"{s['intervals']} intervals in {s['wall_s']:.0f} s, rungs {s['rungs']}, "
        f"{len(s['missed_intervals'])} missed, {s['unconfirmed_writes']} unconfirmed writes, "
        f"{s['alarms']} alarms, mean solve {s['mean_solve_s']:.2f} s"
    )
    cols = [
        ("control loop (simulated)", s["loop"]),
        ("heat-led rules", s["heat_led"]),
        ("perfect foresight (1 plan)", s["perfect_foresight"]),
    ]
    echo(f"{'':28}{'cost EUR':>12}{'CO2 t':>9}{'peak kW':>10}{'CHP h':>10}{'unserved kWh':>14}")
    for label, k in cols:
        chp_h = sum(v for key, v in k.items() if key.startswith("run_hours."))
        echo(
            f"{label:28}{k['cost_eur']:>12,.0f}{k.get('co2_t', float('nan')):>9.1f}"
            f"{k['peak_import_kw']:>10,.0f}{chp_h:>10.1f}{k['unserved_kwh']:>14.1f}"
        )
    saved = s["heat_led"]["cost_eur"] - s["loop"]["cost_eur"]
    gap = s["loop"]["cost_eur"] - s["perfect_foresight"]["cost_eur"]
    echo(
        f"the loop saves {saved:,.0f} EUR against the heat-led rules and is {gap:,.0f} EUR above "
        "the perfect-foresight optimum (costs by the planner's accounting on the actual series; "
        "the loop's cost fixes the setpoints it wrote, the stores and the grid balance)"
    )
    if s["loop_intervals_costed_with_chp_setpoints_only"] or s["loop_intervals_not_costed"]:
        echo(
            f"{s['loop_intervals_costed_with_chp_setpoints_only']} intervals costed with the CHP "
            f"setpoints only, {s['loop_intervals_not_costed']} not costed"
        )


def _cycle_row(r: CycleReport) -> dict[str, Any]:
    return {
        "interval_start": r.interval_start.isoformat(),
        "rung": str(r.rung),
        "written": r.written,
        "schedule_id": r.schedule_id,
        "mip_gap": r.mip_gap,
        "solve_s": round(r.solve_s, 3),
        "writes": len(r.writes),
        "writes_ok": r.writes_ok,
        "alarms": "; ".join(a.code for a in r.alarms),
        **{f"set.{k}": round(v, 3) for k, v in r.setpoints.items()},
    }
