"""The dispatch MILP: building, solving, and reading back the Schedule."""
