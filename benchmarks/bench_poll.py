"""Benchmark: a full poll of the reference campus devices, and the cost as devices grow.

Not a test. Run: ``.venv/bin/python benchmarks/bench_poll.py [--repeat 20] [--sizes 10 50 200]``.

The Modbus servers run in a separate process (pymodbus ``ModbusTcpServer``, one per map, one unit
id per simulated device), so the client is measured without sharing its interpreter with them.
Every device is a separate ``ModbusDevice`` with its own TCP connection, polled concurrently by
``connectors.read_devices`` exactly as in production. Results (medians, with the machine) are
printed and written to ``benchmarks/results/bench_poll.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import statistics
import time
from pathlib import Path

REFERENCE = [
    ("grid_meter", "janitza_umg96rm"),
    ("pv_meter", "siemens_pac3200"),
    ("battery_inv", "sunspec_124_battery"),
    ("chp1_ctrl", "chp_controller"),
    ("chp2_ctrl", "chp_controller"),
    ("boiler_ctrl", "boiler_controller"),
    ("chiller_ctrl", "chiller_controller"),
    ("tes1_sensors", "tank_sensors"),
    ("bms", "bms_gateway"),
]
"""The reference campus devices (used if the shipped site has no devices section yet)."""


def reference_devices() -> list[tuple[str, str]]:
    from energiemodell.errors import SiteError
    from energiemodell.site import load_site

    try:
        site = load_site("reference_campus")
    except SiteError:
        return REFERENCE
    return [(d.name, d.map) for d in site.devices] or REFERENCE


def _serve(specs: dict[str, int], conn: mp.connection.Connection) -> None:
    """Child process: one pymodbus server per map with ``units`` unit ids; send the ports."""
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    from connectors.map_files import load_map
    from connectors.registers import Table

    async def main() -> None:
        servers, ports = [], {}
        for model, units in specs.items():
            rmap = load_map(model)
            blocks = []
            for t in (Table.COIL, Table.DISCRETE, Table.HOLDING, Table.INPUT):
                pts = [p for p in rmap.points.values() if p.table is t]
                lo = min((p.address for p in pts), default=60000)
                hi = max((p.address + p.count for p in pts), default=60001)
                kind = DataType.BITS if t.is_bits else DataType.REGISTERS
                blocks.append([SimData(lo, count=hi - lo, datatype=kind)])
            devices = [SimDevice(id=u, simdata=tuple(blocks)) for u in range(1, units + 1)]
            srv = ModbusTcpServer(devices, address=("127.0.0.1", 0))
            await srv.listen()
            servers.append(srv)
            ports[model] = srv.transport.sockets[0].getsockname()[1]
        conn.send(ports)
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # wait for "stop"
        for srv in servers:
            await srv.shutdown()

    asyncio.run(main())


def fleet(n: int, ref: list[tuple[str, str]]) -> list[tuple[str, str, int]]:
    """``n`` devices cycling through the reference maps: (name, map, unit id)."""
    out = []
    for i in range(n):
        name, model = ref[i % len(ref)]
        out.append((f"{name}_{i}", model, i // len(ref) + 1))
    return out


def bench(devs: list[tuple[str, str, int]], repeat: int) -> dict[str, float]:
    from connectors.map_files import load_map
    from connectors.modbus import ModbusDevice
    from connectors.planning import plan_reads
    from connectors.poller import read_devices

    specs: dict[str, int] = {}
    for _, model, unit in devs:
        specs[model] = max(specs.get(model, 0), unit)
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=_serve, args=(specs, child))
    proc.start()
    try:
        ports = parent.recv()
        devices = [
            ModbusDevice(
                name=name,
                rmap=load_map(model),
                host="127.0.0.1",
                port=ports[model],
                unit_id=unit,
                timeout_s=2.0,
                retries=0,
            )
            for name, model, unit in devs
        ]
        requests = sum(len(plan_reads(d.rmap)) for d in devices)
        t0 = time.perf_counter()
        first = read_devices(devices)
        cold = time.perf_counter() - t0
        bad = sum(r.quality != "good" for r in first)
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            readings = read_devices(devices)
            times.append(time.perf_counter() - t0)
            bad += sum(r.quality != "good" for r in readings)
        for d in devices:
            d.close()
    finally:
        parent.send("stop")
        proc.join(10)
    return {
        "devices": len(devs),
        "points": len(first),
        "requests": requests,
        "cold_ms": 1000 * cold,
        "median_ms": 1000 * statistics.median(times),
        "p90_ms": 1000 * sorted(times)[int(0.9 * (len(times) - 1))],
        "bad_readings": bad,
    }


def machine() -> dict[str, str]:
    cpu = platform.processor() or ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import pymodbus

    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "os": platform.platform(),
        "pymodbus": pymodbus.__version__,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--sizes", type=int, nargs="*", default=[10, 50, 200])
    args = ap.parse_args()
    ref = reference_devices()
    results = {"machine": machine(), "runs": []}
    print(json.dumps(results["machine"]))
    campus = bench([(n, m, 1) for n, m in ref], args.repeat)
    campus["case"] = "reference_campus"
    results["runs"].append(campus)
    print(json.dumps(campus))
    for n in args.sizes:
        r = bench(fleet(n, ref), max(5, args.repeat // 2))
        r["case"] = f"{n}_devices"
        results["runs"].append(r)
        print(json.dumps(r))
    out = Path(__file__).parent / "results" / "bench_poll.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
