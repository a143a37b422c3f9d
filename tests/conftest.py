"""Shared fixtures: the built-in catalog (loaded once) and small hand-made objects."""

from __future__ import annotations

import os

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.pop("ACCELSIM_CATALOG", None)


@pytest.fixture(scope="session")
def catalog():
    from accelsim.catalog.loader import load_catalog

    return load_catalog()
