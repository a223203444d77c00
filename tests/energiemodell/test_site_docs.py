"""docs/site-format.md and docs/site-schema.json match the models, and their examples are valid."""

from __future__ import annotations

import importlib.util
import json
import re
from types import ModuleType

import pytest
import yaml

from energiemodell.assets.base import ASSET_TYPES
from energiemodell.site import Site, site_from_dict
from energiemodell.state import PlantState
from tests.conftest import REPO_ROOT

RUN = "run scripts/gen_site_docs.py and commit the result"


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    path = REPO_ROOT / "scripts" / "gen_site_docs.py"
    spec = importlib.util.spec_from_file_location("gen_site_docs", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def doc(gen) -> str:
    return gen.DOC.read_text(encoding="utf-8")


def test_schema_file_is_up_to_date(gen):
    assert gen.SCHEMA.read_text(encoding="utf-8") == gen.render_schema(), (
        f"docs/site-schema.json is out of date: {RUN}"
    )


def test_generated_tables_are_up_to_date(gen, doc):
    assert gen.render_doc(doc) == doc, f"docs/site-format.md tables are out of date: {RUN}"


def test_schema_is_the_site_models_schema(gen):
    schema = json.loads(gen.render_schema())
    expected = Site.model_json_schema()
    assert schema["properties"] == expected["properties"]
    assert set(schema["$defs"]) == set(expected["$defs"])
    assert set(schema["required"]) == {"name", "tariffs", "assets"}


def test_every_asset_type_and_parameter_is_documented(doc):
    for type_name, cls in ASSET_TYPES.items():
        section = doc.split(f"### `{type_name}`\n", 1)[1].split("\n### ", 1)[0]
        for field in cls.params_model.model_fields:
            if field not in ("name", "type", "description"):
                assert f"| `{field}` |" in section, f"{type_name}.{field}"


def test_a_stale_table_is_detected(gen, doc):
    stale = doc.replace("| `q_max_kw` |", "| `q_maximum_kw` |", 1)
    assert stale != doc
    assert gen.render_doc(stale) == doc


def test_missing_markers_are_an_error(gen, doc):
    broken = re.sub(r"<!-- end generated: assets -->", "", doc)
    with pytest.raises(ValueError, match="markers missing for block\\(s\\) assets"):
        gen.render_doc(broken)


def test_check_mode_reports_up_to_date(gen, capsys):
    assert gen.main(["--check"]) == 0
    assert capsys.readouterr().err == ""


def _code_block(doc: str, lang: str, after: str) -> str:
    tail = doc.split(after, 1)[1]
    return tail.split(f"```{lang}\n", 1)[1].split("```", 1)[0]


def test_commented_site_example_is_a_valid_site(doc):
    data = yaml.safe_load(_code_block(doc, "yaml", "## A commented example"))
    site = site_from_dict(data, source="docs/site-format.md")
    assert site.name == "reference_campus"
    assert [a.type for a in site.assets] == ["grid", "chp", "boiler", "thermal_storage"]


def test_plant_state_example_is_a_valid_state(doc):
    state = PlantState.model_validate(json.loads(_code_block(doc, "json", "## Plant state")))
    assert state.units["boilers"].units_on == 1
    assert state.outages[0].asset == "chp2"


def test_documented_state_defaults_are_the_models():
    state = PlantState()
    assert state.storage_kwh == {}
    assert state.units == {}
    assert state.peak_import_kw == 0.0
    assert state.kwkg_hours_used == {}
    assert state.outages == []
