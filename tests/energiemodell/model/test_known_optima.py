"""Known optima on tiny sites (4-8 quarter-hours): costs by hand, decisive dispatch values.

Every test states its hand calculation. dt = 0.25 h; EUR/MWh / 1000 = EUR/kWh.
"""

from __future__ import annotations

import pandas as pd
import pytest

from energiemodell.model.checks import check_schedule
from energiemodell.state import Outage, PlantState, UnitState

pytestmark = pytest.mark.solver

DT = 0.25
GAS_30 = {"commodity_eur_per_mwh": 30.0}


def chp(**kw):
    return {
        "name": "chp",
        "type": "chp",
        "p_el_max_kw": 100,
        "p_el_min_pu": 0.5,
        "eta_el": 0.4,
        "eta_th": 0.4,
        **kw,
    }


def boiler(**kw):
    return {"name": "boiler", "type": "boiler", "q_max_kw": 500, "eta": 1.0, **kw}


def battery(**kw):
    return {
        "name": "bat",
        "type": "battery",
        "capacity_kwh": 100,
        "charge_max_kw": 100,
        "discharge_max_kw": 100,
        "eta_charge": 0.9,
        "eta_discharge": 0.9,
        "soc_min_pu": 0.0,
        "soc_max_pu": 1.0,
        **kw,
    }


def consistent(site, schedule, state=None):
    assert schedule.status == "optimal"
    assert check_schedule(site, schedule, state=state or PlantState()) == []


@pytest.mark.parametrize(
    ("high", "cost", "charged_kwh", "delivered_kwh"),
    [
        # 1 kWh bought at 20 returns 0.81 kWh worth 100: charge 2 x 100 kW (45 kWh stored), deliver
        # 45 * 0.9 = 40.5 kWh. Import 100 kWh at 20 + (50 - 40.5) kWh at 100 = 2.00 + 0.95.
        (100.0, 2.95, 50.0, 40.5),
        # 0.81 * 24 = 19.4 < 20: no arbitrage. 50 kWh at 20 + 50 kWh at 24.
        (24.0, 2.2, 0.0, 0.0),
    ],
)
def test_battery_arbitrage_between_two_prices(tiny, high, cost, charged_kwh, delivered_kwh):
    site = tiny.site([tiny.grid(), battery(initial_soc_pu=0.0)])
    fc = tiny.forecast(site, 4, electricity=100, price=[20, 20, high, high])
    s = tiny.plan(site, fc)
    consistent(site, s)
    f = s.frame
    assert s.cost_eur == pytest.approx(cost, abs=1e-6)
    assert f["bat.charge_kw"].sum() * DT == pytest.approx(charged_kwh, abs=1e-6)
    assert f["bat.discharge_kw"].sum() * DT == pytest.approx(delivered_kwh, abs=1e-6)
    assert f["bat.charge_kw"].iloc[2:].sum() == pytest.approx(0, abs=1e-6)
    assert f["bat.level_kwh"].iloc[-1] == pytest.approx(0, abs=1e-6)


def test_chp_held_on_by_its_initial_time_in_state(tiny):
    # On for 0.5 h of a 2 h minimum run: held for 1.5 h = 6 steps at minimum load (50 kW el,
    # 125 kW fuel, 50 kW heat) although power is free; then off. Gas at 30 EUR/MWh:
    # CHP 125 * 0.25 * 6 = 187.5 kWh, boiler 150 * 0.25 * 6 + 200 * 0.25 * 2 = 325 kWh.
    site = tiny.site([tiny.grid(), chp(min_up_h=2.0), boiler()], gas=GAS_30)
    fc = tiny.forecast(site, 8, electricity=100, heat=200, price=0)
    state = PlantState(units={"chp": UnitState(on=True, time_in_state_h=0.5)})
    s = tiny.plan(site, fc, state)
    consistent(site, s, state)
    assert list(s.frame["chp.on"]) == [1] * 6 + [0] * 2
    assert list(s.frame["chp.p_el_kw"]) == pytest.approx([50] * 6 + [0] * 2)
    assert s.cost_eur == pytest.approx((187.5 + 325) * 0.03)
    assert s.kpis["starts.chp"] == 0


def test_chp_started_for_one_dear_interval_runs_its_minimum_up_time(tiny):
    # 300 EUR/MWh in interval 1 only: full load there gains 0.25 * (30 + 3 - 7.5) = 6.375 EUR;
    # the 1 h minimum run keeps it on 3 more steps at minimum load, losing 0.25 * 2.25 each
    # (-10 EUR/MWh in interval 0 makes starting there dearer than running on in interval 4).
    # Gas: CHP 250 * 0.25 + 125 * 0.25 * 3 = 156.25 kWh; boiler 200 * 2 - 62.5 = 337.5 kWh;
    # import 100 kW at -10 in interval 0: -0.25 EUR.
    site = tiny.site([tiny.grid(), chp(min_up_h=1.0), boiler()], gas=GAS_30)
    fc = tiny.forecast(site, 8, electricity=100, heat=200, price=[-10, 300, 0, 0, 0, 0, 0, 0])
    s = tiny.plan(site, fc)
    consistent(site, s)
    assert list(s.frame["chp.on"]) == [0, 1, 1, 1, 1, 0, 0, 0]
    assert list(s.frame["chp.p_el_kw"]) == pytest.approx([0, 100, 50, 50, 50, 0, 0, 0])
    assert s.cost_eur == pytest.approx((156.25 + 337.5) * 0.03 - 0.25)


def test_chp_stopped_recently_waits_out_its_minimum_down_time(tiny):
    # Off for 0.25 h of a 1 h minimum stop: unavailable for 3 steps although power is dear.
    site = tiny.site([tiny.grid(), chp(min_down_h=1.0), boiler()], gas=GAS_30)
    fc = tiny.forecast(site, 8, electricity=100, heat=200, price=300)
    state = PlantState(units={"chp": UnitState(on=False, time_in_state_h=0.25)})
    s = tiny.plan(site, fc, state)
    consistent(site, s, state)
    assert list(s.frame["chp.on"]) == [0, 0, 0, 1, 1, 1, 1, 1]


# Demand [100, 100, 200, 100] kW at 100 EUR/MWh (125 kWh = 12.50 EUR); battery 0.9/0.9 starts
# at 50 kWh and must end there. Shaving x kW in interval 2 discharges 0.25 x kWh and recharges
# 0.25 x / 0.81 kWh: extra import 0.25 x (1/0.81 - 1), i.e. 0.0059 EUR per kW shaved, against a
# demand charge per kW of rise above max(peak so far, floor).
@pytest.mark.parametrize(
    ("peak_so_far", "floor", "charge", "import_2", "rise_eur", "energy_eur"),
    [
        (150, 0, 100.0, 150.0, 0.0, (125 + 12.5 * (1 / 0.81 - 1)) * 0.1),
        (150, 180, 100.0, 180.0, 0.0, (125 + 5.0 * (1 / 0.81 - 1)) * 0.1),
        # 0.001 EUR/kW/a: a rise of 50 kW costs 0.05 EUR, less than shaving (0.29 EUR).
        (150, 0, 0.001, 200.0, 0.05, 12.5),
        (250, 0, 100.0, 200.0, 0.0, 12.5),
    ],
)
def test_peak_charge_makes_the_battery_shave(
    tiny, peak_so_far, floor, charge, import_2, rise_eur, energy_eur
):
    site = tiny.site(
        [tiny.grid(), battery(initial_soc_pu=0.5)],
        electricity={
            "energy_price": "fixed",
            "fixed_price_eur_per_mwh": 100.0,
            "demand_charge_eur_per_kw_a": charge,
            "peak_floor_kw": floor,
        },
    )
    fc = tiny.forecast(site, 4, electricity=[100, 100, 200, 100])
    state = PlantState(peak_import_kw=peak_so_far)
    s = tiny.plan(site, fc, state)
    consistent(site, s, state)
    assert s.frame["grid.import_kw"].iloc[2] == pytest.approx(import_2, abs=1e-6)
    assert s.costs["peak_charge"] == pytest.approx(rise_eur, abs=1e-9)
    assert s.costs["electricity_energy"] == pytest.approx(energy_eur, abs=1e-6)
    assert s.frame["bat.level_kwh"].iloc[-1] == pytest.approx(50, abs=1e-6)


@pytest.mark.parametrize(
    ("store_kwh", "cost", "chp_on"),
    [
        # CHP (on/off at 100 kW el and heat, fuel 250 kW) runs in the dear intervals; the 50 kW
        # of heat the campus does not need go into the store and come back when power is cheap.
        # Gas 2 * 250 * 0.25 * 0.03 = 3.75, import 2 * 100 * 0.25 * 0.01 = 0.50.
        (100, 4.25, [1, 1, 0, 0]),
        # Without the store the CHP's heat has nowhere to go: boiler 50 kWh of gas = 1.50, import
        # 50 kWh at 300 = 15.00 and 50 kWh at 10 = 0.50.
        (None, 17.0, [0, 0, 0, 0]),
    ],
)
def test_heat_store_shifts_chp_heat(tiny, store_kwh, cost, chp_on):
    assets = [tiny.grid(), chp(p_el_min_pu=1.0), boiler()]
    if store_kwh:
        assets.append(
            {
                "name": "tes",
                "type": "thermal_storage",
                "carrier": "heat",
                "capacity_kwh": store_kwh,
                "charge_max_kw": 100,
                "discharge_max_kw": 100,
                "initial_level_pu": 0.0,
            }
        )
    site = tiny.site(assets, gas=GAS_30)
    fc = tiny.forecast(site, 4, electricity=100, heat=50, price=[300, 300, 10, 10])
    s = tiny.plan(site, fc)
    consistent(site, s)
    assert s.cost_eur == pytest.approx(cost)
    assert list(s.frame["chp.on"]) == chp_on
    if store_kwh:
        net = s.frame["tes.charge_kw"] - s.frame["tes.discharge_kw"]
        assert list(net) == pytest.approx([50, 50, -50, -50])
        assert list(s.frame["boiler.q_kw"]) == pytest.approx([0, 0, 0, 0])


@pytest.mark.parametrize(
    ("price", "absorption_kw", "cost"),
    [
        # 300 kW cold for 1 h: compression 75 kWh el at 0.10 = 7.50; absorption 428.6 kWh gas at
        # 0.02 + 6 kWh aux at 0.10 = 9.17.
        (100.0, 0.0, 7.5),
        # At 200 EUR/MWh: compression 15.00; absorption 8.571 + 1.20 = 9.771.
        (200.0, 300.0, 300 / 0.7 * 0.02 + 300 * 0.02 * 0.2),
    ],
)
def test_absorption_or_compression_chiller_by_price_ratio(tiny, price, absorption_kw, cost):
    site = tiny.site(
        [
            tiny.grid(),
            boiler(q_max_kw=1000),
            {"name": "cc", "type": "compression_chiller", "cold_max_kw": 500, "eer": 4.0},
            {"name": "ac", "type": "absorption_chiller", "cold_max_kw": 500, "cop": 0.7},
        ],
        gas={"commodity_eur_per_mwh": 20.0},
    )
    fc = tiny.forecast(site, 4, cooling=300, price=price)
    s = tiny.plan(site, fc)
    consistent(site, s)
    assert list(s.frame["ac.cold_kw"]) == pytest.approx([absorption_kw] * 4)
    assert list(s.frame["cc.cold_kw"]) == pytest.approx([300 - absorption_kw] * 4)
    assert s.cost_eur == pytest.approx(cost)


def test_negative_prices_never_charge_and_discharge_at_once(tiny):
    # Paid 100 EUR/MWh to import, so burn energy in losses. Best without simultaneous flows:
    # discharge d in one interval, charge 100 kW in the other three, end full (100 kWh):
    # 50 + 3 * 22.5 - 0.25 d / 0.9 = 100 -> d = 63 kW; import 100 + 0.25 (300 - 63) = 159.25 kWh.
    # Charging 100 kW throughout while discharging at once would import 164 kWh.
    site = tiny.site([tiny.grid(), battery(initial_soc_pu=0.5)])
    fc = tiny.forecast(site, 4, electricity=100, price=-100)
    s = tiny.plan(site, fc)
    consistent(site, s)
    f = s.frame
    assert (f[["bat.charge_kw", "bat.discharge_kw"]].min(axis=1) == 0).all()
    assert f["bat.level_kwh"].iloc[-1] == pytest.approx(100)
    assert s.cost_eur == pytest.approx(-0.1 * 159.25)
    assert sorted(f["bat.discharge_kw"]) == pytest.approx([0, 0, 0, 63])


KWKG = {"tiers": [{"from_kw": 0, "to_kw": 1000, "ct_per_kwh": 5.0}]}


def kwkg_site(tiny, **gas):
    assets = [
        tiny.grid(1000, 1000),
        chp(p_el_min_pu=1.0, min_up_h=1.0, kwkg=KWKG),
        {"name": "dump", "type": "heat_dump", "q_max_kw": 1000, "cost_eur_per_mwh": 0.0},
    ]
    return tiny.site(assets, gas=gas or None)


def test_kwkg_paid_on_export_only_and_not_at_prices_at_or_below_zero(tiny):
    # CHP held on at 100 kW for 4 steps; the campus takes 40, 60 go to the grid. Surcharge
    # 5 ct/kWh on the 60 kW exported at positive prices only: 2 * 15 kWh * 0.05 = 1.50.
    # Export: 15 kWh at 50 twice, at 0, at -10: -0.75 - 0.75 + 0 + 0.15.
    site = kwkg_site(tiny)
    fc = tiny.forecast(site, 4, electricity=40, price=[50, 50, 0, -10])
    state = PlantState(units={"chp": UnitState(on=True, time_in_state_h=0.0)})
    s = tiny.plan(site, fc, state)
    consistent(site, s, state)
    assert list(s.frame["chp.kwkg_kw"]) == pytest.approx([60, 60, 0, 0])
    assert list(s.frame["grid.export_kw"]) == pytest.approx([60] * 4)
    assert s.costs["kwkg_surcharge"] == pytest.approx(-1.5)
    assert s.costs["export_revenue"] == pytest.approx(-1.35)
    assert s.cost_eur == pytest.approx(-2.85)


@pytest.mark.parametrize(
    ("hours_used", "kwkg_eur", "alarm"),
    [
        (0.0, -3.0, False),  # 4 x 15 kWh x 0.05
        (3500 - 0.15, -0.75, False),  # 0.15 h x 100 kW = 15 kWh left
        (3500.0, 0.0, True),
    ],
)
def test_kwkg_hour_cap_from_the_state(tiny, hours_used, kwkg_eur, alarm):
    site = kwkg_site(tiny)
    fc = tiny.forecast(site, 4, electricity=40, price=50)
    state = PlantState(
        units={"chp": UnitState(on=True, time_in_state_h=0.0)},
        kwkg_hours_used={"chp": hours_used},
    )
    s = tiny.plan(site, fc, state)
    consistent(site, s, state)
    assert s.costs["kwkg_surcharge"] == pytest.approx(kwkg_eur)
    assert s.frame["chp.kwkg_kw"].sum() * DT == pytest.approx(-kwkg_eur / 0.05)
    assert any("KWKG hour cap" in a for a in s.alarms) is alarm


@pytest.mark.parametrize("used_up", ["chp1", "chp2"])
def test_kwkg_hours_left_tell_identical_chps_apart(tiny, used_up):
    # Regression: symmetry breaking forced on[chp2] <= on[chp1] although only one had KWKG hours
    # left. A CHP loses 0.0125 EUR/kWh el without the surcharge (fuel 2.5 x 0.025 against 0.05
    # at export) and gains 0.0375 with it: only the one with hours left runs, 100 kWh el:
    # fuel 6.25 - export 5.00 - surcharge 5.00 = -3.75.
    unit = chp(p_el_min_pu=1.0, kwkg=KWKG)
    site = tiny.site(
        [
            tiny.grid(1000, 1000),
            {**unit, "name": "chp1"},
            {**unit, "name": "chp2"},
            {"name": "dump", "type": "heat_dump", "q_max_kw": 1000, "cost_eur_per_mwh": 0.0},
        ],
        gas={"commodity_eur_per_mwh": 25.0},
    )
    fc = tiny.forecast(site, 4, price=50)
    state = PlantState(kwkg_hours_used={used_up: 3500.0})
    s = tiny.plan(site, fc, state)
    consistent(site, s, state)
    other = "chp2" if used_up == "chp1" else "chp1"
    assert list(s.frame[f"{used_up}.on"]) == [0] * 4
    assert list(s.frame[f"{other}.on"]) == [1] * 4
    assert s.cost_eur == pytest.approx(-3.75)


@pytest.mark.parametrize(
    ("critical", "moved", "cost"),
    [
        # 25 kWh to deliver in the local hour 01:00-02:00, all of it in the cheap quarter-hour:
        # base 100 kW over 1 h at (100 + 10 + 100 + 100) / 4 = 7.75, the load 25 kWh at 10 = 0.25.
        (False, [0, 100, 0, 0], 8.0),
        # Critical: never shifted, 25 kW throughout: 125 kW x 0.25 h x (0.31 EUR/kWh summed).
        (True, [25, 25, 25, 25], 125 * 0.25 * 0.31),
    ],
)
def test_flexible_load_moves_to_the_cheap_interval_unless_critical(tiny, critical, moved, cost):
    site = tiny.site(
        [
            tiny.grid(),
            {
                "name": "ev",
                "type": "flexible_load",
                "p_max_kw": 100,
                "energy_kwh": 25,
                "window_start": "01:00",
                "window_end": "02:00",
                "critical": critical,
            },
        ]
    )
    # The demand series holds the load spread evenly over its window (25 kW on top of 100).
    fc = tiny.forecast(site, 4, electricity=125, price=[100, 10, 100, 100])
    s = tiny.plan(site, fc)
    consistent(site, s)
    assert list(s.frame["ev.p_kw"]) == pytest.approx(moved)
    assert s.cost_eur == pytest.approx(cost)


def test_unit_out_of_service(tiny):
    # The CHP pays at 300 EUR/MWh but is out for interval 2: CHP 250 kW fuel + boiler 100 kW in
    # three intervals (262.5 kWh), boiler alone 200 kW in interval 2 (50 kWh), all gas at 0.03;
    # import 100 kW in interval 2 at 0.30.
    site = tiny.site([tiny.grid(), chp(), boiler()], gas=GAS_30)
    fc = tiny.forecast(site, 4, electricity=100, heat=200, price=300)
    out = Outage(
        asset="chp",
        start=tiny.START + pd.Timedelta("30min"),
        end=tiny.START + pd.Timedelta("45min"),
    )
    state = PlantState(outages=[out])
    s = tiny.plan(site, fc, state)
    consistent(site, s, state)
    assert list(s.frame["chp.on"]) == [1, 1, 0, 1]
    assert s.cost_eur == pytest.approx(312.5 * 0.03 + 25 * 0.3)


@pytest.mark.parametrize(
    ("measured", "level_min_pu", "clipped"), [(150.0, 0.0, 100.0), (5.0, 0.2, 20.0)]
)
def test_measured_storage_level_outside_bounds_is_clipped_with_an_alarm(
    tiny, measured, level_min_pu, clipped
):
    site = tiny.site(
        [
            boiler(),
            {
                "name": "tes",
                "type": "thermal_storage",
                "carrier": "heat",
                "capacity_kwh": 100,
                "charge_max_kw": 50,
                "discharge_max_kw": 50,
                "level_min_pu": level_min_pu,
            },
        ],
        gas=GAS_30,
    )
    fc = tiny.forecast(site, 4, heat=40)
    state = PlantState(storage_kwh={"tes": measured})
    s = tiny.plan(site, fc, state)
    consistent(site, s, state)
    assert any(a.startswith("tes: measured level") and "clipped" in a for a in s.alarms)
    f = s.frame
    net_kwh = DT * (f["tes.charge_kw"].iloc[0] - f["tes.discharge_kw"].iloc[0])
    assert f["tes.level_kwh"].iloc[0] == pytest.approx(clipped + net_kwh)
    assert f["tes.level_kwh"].iloc[-1] == pytest.approx(clipped)
    assert s.penalty_eur == pytest.approx(0)
    assert s.cost_eur == pytest.approx(40 * 1.0 * 0.03)


def test_unserved_energy_only_when_capacity_is_short_and_critical_last(tiny):
    # 100 kW import for demands [50, 150, 300, 100] with 60 % critical: shed [0, 50, 200, 0];
    # non-critical first (at most 40 % of 300 = 120), critical only the remaining 80 kW.
    site = tiny.site(
        [tiny.grid(max_import_kw=100)],
        security={"critical_share_pu": {"electricity": 0.6, "heat": 1.0, "cooling": 1.0}},
    )
    fc = tiny.forecast(site, 4, electricity=[50, 150, 300, 100], price=50)
    s = tiny.plan(site, fc)
    consistent(site, s)
    f = s.frame
    assert list(f["unserved.electricity_kw"]) == pytest.approx([0, 50, 200, 0])
    assert list(f["unserved.electricity_critical_kw"]) == pytest.approx([0, 0, 80, 0])
    assert s.penalties["unserved_noncritical"] == pytest.approx((50 + 120) * DT / 1000 * 20_000)
    assert s.penalties["unserved_critical"] == pytest.approx(80 * DT / 1000 * 100_000)
    assert s.cost_eur == pytest.approx(350 * DT * 0.05)
    assert any(a.startswith("unserved electricity: 62.5 kWh") for a in s.alarms)
    # Regression: the critical column was counted a second time (82.5 kWh).
    assert s.unserved_kwh == pytest.approx(62.5)
    assert s.kpis["unserved_kwh"] == pytest.approx(62.5)


def test_group_unit_outage_leaves_heat_unserved(tiny):
    # Two 100 kW boilers, one out for the first half hour: 50 of 150 kW unserved there only.
    site = tiny.site([boiler(q_max_kw=100, units=2)])
    fc = tiny.forecast(site, 4, heat=150)
    out = Outage(asset="boiler", units=1, end=tiny.START + pd.Timedelta("30min"))
    state = PlantState(outages=[out])
    s = tiny.plan(site, fc, state)
    consistent(site, s, state)
    assert list(s.frame["unserved.heat_kw"]) == pytest.approx([50, 50, 0, 0])
    assert list(s.frame["boiler.q_kw"]) == pytest.approx([100, 100, 150, 150])


@pytest.mark.parametrize(
    ("tariff", "expected"),
    [
        (
            {"energy_price": "fixed", "fixed_price_eur_per_mwh": 80.0},
            [112.5] * 4,
        ),
        (
            {"energy_price": "day_ahead", "supplier_margin_eur_per_mwh": 5.0},
            [67.5, 17.5, 137.5, 5.5],
        ),
    ],
)
def test_marginal_electricity_price_is_the_import_price(tiny, tariff, expected):
    # Duals of the balance with integers fixed: one more kW of demand costs the import price
    # incl. grid fee 10 and levies 20.5 + 2 (day-ahead [30, -20, 100, -32] + margin 5).
    site = tiny.site(
        [tiny.grid()],
        electricity={
            **tariff,
            "grid_energy_charge_eur_per_mwh": 10.0,
            "levies_eur_per_mwh": {"electricity_tax": 20.5, "kwkg_levy": 2.0},
        },
    )
    fc = tiny.forecast(site, 4, electricity=[100, 200, 300, 400], price=[30, -20, 100, -32])
    s = tiny.plan(site, fc)
    consistent(site, s)
    assert list(s.frame["price.electricity_eur_per_mwh"]) == pytest.approx(expected)


def test_no_load_shed_to_avoid_a_peak_rise(tiny):
    # All demand critical (the default share). Serving 200 kW raises the year's peak from 150
    # to 200 kW: 50 kW x 100 EUR/kW/a = 5000 EUR, which a hospital must pay rather than shed.
    site = tiny.site(
        [tiny.grid()],
        electricity={
            "energy_price": "fixed",
            "fixed_price_eur_per_mwh": 100.0,
            "demand_charge_eur_per_kw_a": 100.0,
        },
    )
    fc = tiny.forecast(site, 4, electricity=[100, 100, 200, 100])
    state = PlantState(peak_import_kw=150)
    s = tiny.plan(site, fc, state)
    assert s.unserved_kwh == 0
    assert s.costs["peak_charge"] == pytest.approx(5000.0)


def test_storage_out_of_service_is_not_dispatched(tiny):
    # Regression: stores ignored PlantState.outages. Out of service, the battery cannot shift
    # the 100 kW: 50 kWh at 10 and 50 kWh at 100 EUR/MWh.
    site = tiny.site([tiny.grid(), battery(eta_charge=1.0, eta_discharge=1.0)])
    fc = tiny.forecast(site, 4, electricity=100, price=[10, 10, 100, 100])
    state = PlantState(outages=[Outage(asset="bat", reason="inverter fault")])
    s = tiny.plan(site, fc, state)
    consistent(site, s, state)
    assert s.frame[["bat.charge_kw", "bat.discharge_kw"]].abs().to_numpy().max() == 0
    assert s.cost_eur == pytest.approx(5.5)


def test_grid_out_of_service_takes_no_export(tiny):
    # Regression: only import was cut during a grid outage. The CHP, held on, makes 60 kW more
    # than the campus uses: with the grid out it is surplus, reported, not exported.
    site = kwkg_site(tiny)
    fc = tiny.forecast(site, 4, electricity=40, price=50)
    state = PlantState(
        units={"chp": UnitState(on=True, time_in_state_h=0.0)}, outages=[Outage(asset="grid")]
    )
    s = tiny.plan(site, fc, state)
    consistent(site, s, state)
    assert list(s.frame["grid.export_kw"]) == [0] * 4
    assert list(s.frame["surplus.electricity_kw"]) == pytest.approx([60] * 4)
    assert s.costs["kwkg_surcharge"] == 0
    assert any(a.startswith("surplus electricity") for a in s.alarms)


def test_marginal_heat_price_is_the_boiler_fuel_price(tiny):
    # One more kW of heat burns 1 / 0.9 kW of gas at 30 + 5.5 EUR/MWh.
    site = tiny.site(
        [boiler(eta=0.9)], gas={"commodity_eur_per_mwh": 30.0, "energy_tax_eur_per_mwh": 5.5}
    )
    fc = tiny.forecast(site, 4, heat=[100, 200, 300, 400])
    s = tiny.plan(site, fc)
    consistent(site, s)
    assert list(s.frame["price.heat_eur_per_mwh"]) == pytest.approx([35.5 / 0.9] * 4)


@pytest.mark.parametrize(("window_start", "rise_kw"), [("00:00", 50.0), ("08:00", 0.0)])
def test_peak_counts_only_inside_high_load_windows(tiny, window_start, rise_kw):
    # The horizon is 01:00-02:00 local on a Tuesday in March: inside a 00:00-03:00 window the
    # 200 kW raise the year's peak from 150 kW; outside an 08:00-11:00 window they do not.
    site = tiny.site(
        [tiny.grid()],
        electricity={
            "energy_price": "fixed",
            "fixed_price_eur_per_mwh": 100.0,
            "demand_charge_eur_per_kw_a": 0.01,
            "high_load_windows": [
                {"months": [3], "start": window_start, "end": f"{int(window_start[:2]) + 3:02d}:00"}
            ],
        },
    )
    fc = tiny.forecast(site, 4, electricity=[100, 100, 200, 100])
    s = tiny.plan(site, fc, PlantState(peak_import_kw=150))
    consistent(site, s)
    assert s.costs["peak_charge"] == pytest.approx(0.01 * rise_kw)


@pytest.mark.parametrize(("share", "critical_shed"), [(0.2, 0.0), (0.9, 35.0)])
def test_critical_share_comes_from_the_forecast(tiny, share, critical_shed):
    # 150 kW demand, 100 kW import: 50 kW must go. The Forecast's critical share (not the
    # site's default) decides how much of it is critical: non-critical is shed first.
    site = tiny.site([tiny.grid(max_import_kw=100.0)])
    fc = tiny.forecast(site, 4, electricity=150)
    fc["demand.electricity_critical_pu"] = share
    s = tiny.plan(site, fc)
    assert s.frame["unserved.electricity_kw"].to_numpy() == pytest.approx([50.0] * 4)
    assert s.frame["unserved.electricity_critical_kw"].to_numpy() == pytest.approx(
        [critical_shed] * 4
    )
