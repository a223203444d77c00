"""The shared fixtures of tests/conftest.py do what they promise."""

from __future__ import annotations

import pytest

from energiemodell.site import load_site
from tests.conftest import REQUIRE_SERVICES_ENV, SMALL_SITE


def test_require_or_skip_skips_by_default(require_or_skip, monkeypatch):
    monkeypatch.delenv(REQUIRE_SERVICES_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no PostgreSQL"):
        require_or_skip("no PostgreSQL")


def test_require_or_skip_fails_when_services_are_required(require_or_skip, monkeypatch):
    monkeypatch.setenv(REQUIRE_SERVICES_ENV, "1")
    with pytest.raises(pytest.fail.Exception) as info:
        require_or_skip("no PostgreSQL")
    assert str(info.value) == (
        f"no PostgreSQL ({REQUIRE_SERVICES_ENV}=1: this service is required)"
    )


def test_write_site_writes_a_loadable_site_with_overrides(write_site, tmp_path):
    path = write_site(tmp_path / "a", name="other_site", description="made by a test")
    site = load_site(path)
    assert site.name == "other_site"
    assert site.description == "made by a test"
    assert (tmp_path / "a" / "series.csv").read_text(encoding="utf-8").startswith("timestamp,")
    assert len(site.assets) == len(SMALL_SITE["assets"])


def test_write_site_none_removes_a_key(write_site, tmp_path):
    site = load_site(write_site(tmp_path, series=None))
    assert site.series == []


def test_reference_site_is_the_shipped_campus(reference_site):
    assert reference_site.name == "reference_campus"
    assert reference_site.timezone == "Europe/Berlin"
