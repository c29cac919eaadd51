"""Issue 16's hostile-input table: every case reads, warns once, or is refused in one line; none hangs or prints a traceback."""

from __future__ import annotations

import pytest
from hostile_cases import CASES, DATA, run_case

pytestmark = pytest.mark.skipif(not DATA.exists(), reason=f"shared data not found: {DATA}")


@pytest.mark.parametrize("case", CASES, ids=[f"{c.category}: {c.name}" for c in CASES])
def test_hostile_input(case):
    problem = run_case(case)
    assert problem is None, f"{case.category}: {case.name}: {problem}"


def test_inspect_refuses_a_fifo_in_one_line_with_exit_2(tmp_path, capsys):
    import os

    from twin.app.cli import main

    fifo = tmp_path / "pipe.asc"
    os.mkfifo(fifo)
    assert main(["inspect", str(fifo), "--json"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"twin: {fifo}: is a FIFO (named pipe), not a regular file; twin reads files"


def test_library_chatter_that_matters_is_one_warning(tmp_path):
    """What a C library prints during a read that succeeds becomes one twin warning; benign lines are dropped."""
    import os
    import warnings

    from twin.errors import InputWarning
    from twin.io.checks import quiet

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with quiet("f.grib"):
            os.write(2, b"ECCODES ERROR   :  something went wrong\nsecond line\n")
            warnings.warn("ecCodes 2.31.0 or higher is recommended. You are running version 2.28.0", UserWarning, stacklevel=1)
    ours = [str(w.message) for w in caught if issubclass(w.category, InputWarning)]
    assert ours == ["f.grib: the reader said: ECCODES ERROR   :  something went wrong (and 1 more lines)"]
    assert len(caught) == 1
