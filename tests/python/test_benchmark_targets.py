"""benchmarks/run_benchmarks.py: issue 22's targets are judged from the
stored results, and a target without a measurement says so."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks" / "run_benchmarks.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("run_benchmarks", BENCHMARKS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(wall: float, peak: float, alone: dict[str, float] | None = None) -> dict:
    stages = {stage: {"time_s": 1.0, "nodes": 1, "peak_rss_bytes": 0}
              for stage in ("harmonisation", "gx", "psm", "km", "cox", "other")}
    return {"returncode": 0, "wall_s": wall, "peak_tree_rss_bytes": peak,
            "started_at": 1.8e9, "stages": stages,
            "isolated": {"stages": {s: {"wall_s": t} for s, t in (alone or {}).items()}}}


def _verdicts(bench, store: dict) -> dict[str, str]:
    return {target: verdict for target, _, verdict in bench.target_rows(store)}


def test_an_empty_store_measures_nothing(bench):
    verdicts = _verdicts(bench, {})
    assert set(verdicts.values()) == {"not measured"}
    assert any(target.startswith("10,000,000 patients") for target in verdicts)


def test_targets_are_judged_at_their_thresholds(bench):
    store = {"runs": {"current": {
        "100000": [_run(10.0, 0.5e9, {"harmonisation": 3.0, "psm": 0.2, "km": 0.2,
                                      "cox": 1.0})],
        "1000000": [_run(89.9, 4.01e9, {"harmonisation": 29.9, "psm": 3.0, "km": 2.9,
                                        "cox": 11.9})]}},
        "peers": [{"started": "x", "sizes": {"1000000": {"median_s": {"cox": {
            "ours": 0.21, "lifelines": 1.0}}}}}],
        "demo": {"current": {"returncode": 0, "wall_s": 14.9, "started_at": 1.8e9}}}
    verdicts = _verdicts(bench, store)
    assert verdicts["1,000,000 patients: build < 90 s"] == "PASS"
    assert verdicts["1,000,000 patients: peak memory < 4 GB"] == "FAIL"  # 4.01e9 bytes
    assert verdicts["harmonisation SQL stage at 1,000,000 patients < 30 s (timed alone)"] \
        == "PASS"
    assert verdicts["PSM stage at 1,000,000 patients < 3 s (timed alone)"] == "FAIL"
    assert verdicts["KM stage at 1,000,000 patients < 3 s (timed alone)"] == "PASS"
    assert verdicts["Cox stage at 1,000,000 patients < 12 s (timed alone)"] == "PASS"
    assert verdicts["one Efron fit of 1,000,000 x 13 <= 0.2 of lifelines' time in the same "
                    "run"] == "FAIL"  # 0.21
    assert verdicts["embedded demo (496 patients), scheduled build warm < 15 s"] == "PASS"
    assert verdicts["10,000,000 patients: peak memory < 16 GB"] == "not measured"
    # wall 10 -> 89.9 s over 100,000 -> 1,000,000 is slope 0.95 < n log n's 1.08
    assert verdicts["whole build (wall): grows no worse than n log n (100,000 -> 1,000,000)"] \
        == "PASS"
    store["runs"]["current"]["10000000"] = [_run(3000.0, 15.9e9)]
    verdicts = _verdicts(bench, store)
    assert verdicts["10,000,000 patients: peak memory < 16 GB"] == "PASS"
    # 89.9 -> 3000 s over 1,000,000 -> 10,000,000 is slope 1.52
    assert verdicts["whole build (wall): grows no worse than n log n "
                    "(1,000,000 -> 10,000,000)"] == "FAIL"


def test_report_only_copies_the_notes_verbatim(bench):
    notes = "### Scale\n\nA note | with a pipe, *as written*.\n"
    text = bench.render({}, notes)
    assert text.endswith("## Notes (benchmarks/NOTES.md)\n\n" + notes.strip() + "\n")
    assert "## Notes" not in bench.render({}, "")


def test_the_10m_target_reads_a_run_stored_under_its_own_tag(bench):
    big = [_run(200.0, 3.5e9, {"harmonisation": 90.0, "psm": 4.0, "km": 1.6, "cox": 10.0})]
    huge = {**_run(2700.0, 16.1e9), "duckdb_memory_limit": "6GB", "started_at": 1.9e9}
    store = {"runs": {"after": {"1000000": big},
                      "older": {"10000000": [{**_run(2500.0, 14.0e9), "started_at": 1.7e9}]},
                      "huge-alone": {"10000000": [huge]}}}
    rows = {target: (measured, verdict) for target, measured, verdict in bench.target_rows(store)}
    measured, verdict = rows["10,000,000 patients: peak memory < 16 GB"]
    assert verdict == "FAIL"  # the newest run of that size, 16.1e9 bytes, not the older 14e9
    assert "tag huge-alone" in measured and "DuckDB cap 6GB" in measured
    # it stays out of the growth slopes: they compare the current tag's sizes only
    assert not any("10,000,000)" in target for target in rows)
    # the current tag's own run of that size comes first, even when another is newer
    store["runs"]["after"]["10000000"] = [_run(3000.0, 15.0e9)]
    rows = {target: (measured, verdict) for target, measured, verdict in bench.target_rows(store)}
    measured, verdict = rows["10,000,000 patients: peak memory < 16 GB"]
    assert verdict == "PASS" and "tag after" in measured
