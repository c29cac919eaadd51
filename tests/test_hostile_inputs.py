"""Issue 16's hostile-input table: every case reads, warns once, or is refused in one line; none hangs or prints a traceback."""

from __future__ import annotations

import pytest

from hostile_cases import CASES, DATA, run_case

pytestmark = pytest.mark.skipif(not DATA.exists(), reason=f"shared data not found: {DATA}")


@pytest.mark.parametrize("case", CASES, ids=[f"{c.category}: {c.name}" for c in CASES])
def test_hostile_input(case):
    problem = run_case(case)
    assert problem is None, f"{case.category}: {case.name}: {problem}"
