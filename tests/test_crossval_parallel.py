"""Leave-one-source-out folds run as executor tasks (``cross_validate(workers=...)``) give the
serial result byte for byte (issue 18), on a small case set: the fold of a source that informs
the SGLang-on-Ascend cost (refit there on the other source's fit cases, so it differs from the
shipped value; the other numbers are refit as well)."""

from __future__ import annotations

import json

import pytest

from accelsim.validate.cases import load_cases
from accelsim.validate.crossval import cross_validate
from accelsim.validate.predict import ValidationReport, predict

PROBE = "sgl-a2-qwen3-32b-tp8-4k1.5k-bs1"  # its source informs the SGLang-on-Ascend cost


@pytest.fixture(scope="module")
def small(catalog):
    (case,) = [c for c in load_cases(catalog=catalog) if c.id == PROBE]
    report = ValidationReport([predict(case, catalog)], [], [])
    serial = cross_validate(catalog, report=report, only=[PROBE])
    return report, serial


def _same(a, b) -> None:
    assert json.dumps(a.as_dict(), sort_keys=True) == json.dumps(b.as_dict(), sort_keys=True)
    assert [r.predicted for r in a.results] == [r.predicted for r in b.results]


def test_folds_on_the_local_pool_equal_the_serial_run(catalog, small):
    report, serial = small
    (fold,) = serial.folds
    assert fold.case_ids == (PROBE,) and not fold.priors
    refit = fold.values["framework.sglang-ascend.decode_token_layer_cost"]
    assert refit != catalog.get("framework", "sglang-ascend").decode_token_layer_cost
    _same(cross_validate(catalog, report=report, only=[PROBE], workers=2), serial)


def test_folds_on_ray_equal_the_serial_run(catalog, small):
    pytest.importorskip("ray", reason="ray is not installed (pip install 'accelsim[ray]')")
    report, serial = small
    _same(cross_validate(catalog, report=report, only=[PROBE], workers=2, executor="ray"), serial)
