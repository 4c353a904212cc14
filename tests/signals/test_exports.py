"""The package's ``__all__`` names every public name of the signal modules, and each exists."""

from __future__ import annotations

import importlib

import accord.signals

MODULES = ["base", "exact", "media", "pdq", "registry", "text", "url", "vpdq"]


def test_all_names_exist() -> None:
    for name in accord.signals.__all__:
        assert hasattr(accord.signals, name), name


def test_all_is_complete_for_the_main_names() -> None:
    exported = set(accord.signals.__all__)
    for module_name in MODULES:
        module = importlib.import_module(f"accord.signals.{module_name}")
        public = {n for n in module.__all__ if n[0].isupper()}  # the classes
        missing = public - exported - {"TRACKING_PARAMETERS", "NUM_PERM", "SHINGLE", "PDQ_BITS"}
        assert not missing, (module_name, missing)
