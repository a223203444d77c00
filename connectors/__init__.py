"""Modbus TCP connectors: register maps, reading, safe writing, and the plant simulator."""

from connectors.binding import asset_limits, build_devices, check_site_devices
from connectors.commissioning import CheckItem, CheckReport, CheckStatus, commission
from connectors.device import Device, FakeDevice, Quality, Reading
from connectors.errors import ConnectorError, DecodeError, DeviceUnavailable, WriteRejected
from connectors.estimates import storage_level_kwh
from connectors.map_files import load_map
from connectors.modbus import ModbusDevice, device_from_binding
from connectors.overrides import apply_device_overrides
from connectors.poller import QuantityValue, read_devices, site_quantities
from connectors.registers import Point, RegisterMap
from connectors.sim_devices import FaultKind
from connectors.simulator import PlantSimulator, SimulatorConfig
from connectors.writer import (
    Heartbeat,
    MemorySink,
    SafeWriter,
    WriteReport,
    WriteResult,
    WriteSink,
    enable_remote,
    release_remote,
)

__all__ = [
    "CheckItem",
    "CheckReport",
    "CheckStatus",
    "ConnectorError",
    "DecodeError",
    "Device",
    "DeviceUnavailable",
    "FakeDevice",
    "FaultKind",
    "Heartbeat",
    "MemorySink",
    "ModbusDevice",
    "PlantSimulator",
    "Point",
    "Quality",
    "QuantityValue",
    "Reading",
    "RegisterMap",
    "SafeWriter",
    "SimulatorConfig",
    "WriteRejected",
    "WriteReport",
    "WriteResult",
    "WriteSink",
    "apply_device_overrides",
    "asset_limits",
    "build_devices",
    "check_site_devices",
    "commission",
    "device_from_binding",
    "enable_remote",
    "load_map",
    "read_devices",
    "release_remote",
    "site_quantities",
    "storage_level_kwh",
]
