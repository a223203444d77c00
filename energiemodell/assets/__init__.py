"""Asset types. Importing this package registers every type: this list is the registration list."""

from energiemodell.assets import (
    absorption_chiller,
    battery,
    boiler,
    chp,
    compression_chiller,
    district_heat,
    electric_boiler,
    emergency_generator,
    flexible_load,
    grid,
    heat_dump,
    heat_pump,
    pv,
    thermal_storage,
)
from energiemodell.assets.base import ASSET_TYPES, Asset, AssetParams, Carrier, register

__all__ = [
    "ASSET_TYPES",
    "Asset",
    "AssetParams",
    "Carrier",
    "absorption_chiller",
    "battery",
    "boiler",
    "chp",
    "compression_chiller",
    "district_heat",
    "electric_boiler",
    "emergency_generator",
    "flexible_load",
    "grid",
    "heat_dump",
    "heat_pump",
    "pv",
    "register",
    "thermal_storage",
]
