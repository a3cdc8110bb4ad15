"""Make the project's packages under src/ importable without installing them,
and build the embedded data once per test session for the tests that read it."""

import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))


#: Test files that share the session's embedded build run in one xdist worker.
EMBEDDED_BUILD_READERS = {"test_diagnostics_build", "test_line_derivation", "test_operations",
                          "test_warehouse_build"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """`make test` runs pytest on two workers (-n 2 --dist loadgroup). Each test
    file is one group, so its module and session fixtures (the builds) are
    made once, in one worker; the files that read the embedded build share a
    group. tryfirst: xdist reads the groups in its own hook of this name,
    which would otherwise run before this one and see no group, so both
    workers would make every session fixture (each bad-input build twice)."""
    for item in items:
        stem = item.path.stem
        group = "embedded_build" if stem in EMBEDDED_BUILD_READERS else stem
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def embedded_build(tmp_path_factory):
    """``dbt build`` of the embedded data, unit tests included. Read it, do not
    build into it: a test that rebuilds copies it first (test_operations)."""
    from dbt_harness import run_dbt

    run = run_dbt(["build"], tmp_path_factory.mktemp("embedded_build"), unit_tests=True,
                  partial_parse=True)
    assert run.returncode == 0, run.output[-6000:]
    return run
