"""Each package's ``__all__`` lists exactly its public names (as httpx's test of the same name)."""

import __future__

import importlib
import types

import pytest

PACKAGES = ["energiemodell", "connectors", "scheduler", "scenarios"]


def public_names(module: types.ModuleType) -> list[str]:
    """Names a user may import: no underscore, not a submodule, not a ``__future__`` feature.

    Names a package exports lazily (its ``_HOME`` table, resolved by ``__getattr__``) count too.
    """
    names = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and not isinstance(value, __future__._Feature)
    }
    return sorted(names | set(getattr(module, "_HOME", {})))


@pytest.mark.parametrize("package", PACKAGES)
def test_all_lists_exactly_the_public_names(package):
    module = importlib.import_module(package)
    assert module.__all__ == public_names(module)


@pytest.mark.parametrize("package", PACKAGES)
def test_star_import_gives_all(package):
    namespace: dict[str, object] = {}
    exec(f"from {package} import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(
        importlib.import_module(package).__all__
    )


def test_public_names_sees_classes_functions_and_constants_but_not_modules():
    module = types.ModuleType("example")
    exec(
        "from __future__ import annotations\nimport json\nX = 1\ndef f(): pass\n_hidden = 2",
        vars(module),
    )
    assert public_names(module) == ["X", "f"]
