"""What-if scenarios: a base site, a period, changes and a strategy, run on the rolling horizon.

A scenario is data (``scenarios/library/*.yaml``); it uses :mod:`energiemodell` only.
"""

__all__: list[str] = []
