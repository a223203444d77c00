"""Tests of the four packages (a package, so tests/ never shadows them on sys.path)."""
