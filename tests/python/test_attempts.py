"""The warehouse lock and attempt marker (rwe_warehouse.warehouse_lock) without dbt:
holders are real processes that exit or are killed; the dbt side (run_log rows
for killed, interrupted and refused builds) is in test_operations."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from rwe_warehouse.warehouse_lock import Attempt, AttemptFiles, WarehouseBusy, WarehouseLock

#: Takes the lock for the attempt given as JSON, says so, and holds it until
#: its standard input closes (then exits normally) or it is killed.
HOLDER = """
import atexit, json, os, sys
from pathlib import Path
from rwe_warehouse.warehouse_lock import Attempt, WarehouseLock
attempt = Attempt(**{**json.loads(sys.argv[2]), "pid": os.getpid()})
lock = WarehouseLock.acquire(Path(sys.argv[1]), attempt)
atexit.register(lock.mark_ended)
print("held", flush=True)
sys.stdin.read()
"""


def _attempt(index: int, command: str = "build") -> Attempt:
    return Attempt(run_id=f"run_20261205T1200{index:02d}_000000Z",
                   dbt_invocation_id=f"invocation-{index}", command=command, pid=0,
                   host="test", started_at=f"2026-12-05T12:00:{index:02d}.000000",
                   dbt_version="1.11", log_file="logs/dbt.log")


class Holder:
    """A process holding the warehouse lock for one attempt."""

    def __init__(self, warehouse: Path, attempt: Attempt):
        src = Path(__file__).resolve().parents[2] / "src"
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(warehouse), json.dumps(asdict(attempt))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(src)})
        assert self.process.stdout.readline().strip() == "held"

    def exit(self) -> None:
        self.process.stdin.close()
        assert self.process.wait(timeout=30) == 0

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


def test_a_second_holder_is_refused_in_one_line_and_a_dead_one_blocks_nothing(tmp_path):
    warehouse = tmp_path / "rwe.duckdb"
    holder = Holder(warehouse, _attempt(1))
    with pytest.raises(WarehouseBusy) as refused:
        WarehouseLock.acquire(warehouse, _attempt(2))
    message = str(refused.value)
    assert message == (f"another build holds the warehouse {warehouse} (run "
                       f"{_attempt(1).run_id}, pid {holder.process.pid}, started "
                       "2026-12-05 12:00:01 UTC)")
    assert "\n" not in message
    # The refused build left its record; the holder's marker is untouched.
    files = AttemptFiles(warehouse)
    assert [path.name for path in files.refused_files()] == [
        f"rwe.duckdb.refused.{_attempt(2).run_id}.json"]
    assert files.read()[0].pid == holder.process.pid
    holder.kill()
    # The dead holder's lock file and marker are still there; they block nothing.
    assert files.lock.exists() and files.read()[0].ended_at is None
    lock = WarehouseLock.acquire(warehouse, _attempt(3))
    killed, refused_attempt = lock.to_record
    assert (killed.run_id, killed.pid, killed.ended_at) == (
        _attempt(1).run_id, holder.process.pid, None)
    assert refused_attempt.run_id == _attempt(2).run_id
    assert refused_attempt.refused_by == killed.describe()
    assert not files.refused_files()  # moved into the marker
    assert files.read() == (_attempt(3), lock.to_record)


def test_an_attempt_stays_in_the_marker_until_run_log_has_its_row(tmp_path):
    warehouse = tmp_path / "rwe.duckdb"
    Holder(warehouse, _attempt(1)).kill()  # a build killed: ended_at stays empty
    second = Holder(warehouse, _attempt(2))
    second.kill()  # killed before it recorded the first
    Holder(warehouse, _attempt(3, command="docs")).exit()  # not a build: never recorded
    fourth = Holder(warehouse, _attempt(4))
    fourth.exit()  # exited normally, but whether it wrote its row is run_log's to say
    lock = WarehouseLock.acquire(warehouse, _attempt(5))
    assert [attempt.run_id for attempt in lock.to_record] == [
        _attempt(index).run_id for index in (1, 2, 4)]
    assert lock.to_record[2].ended_at is not None
    assert lock.keep_unrecorded({_attempt(4).run_id}) == lock.to_record
    assert [attempt.run_id for attempt in lock.to_record] == [
        _attempt(index).run_id for index in (1, 2)]
    assert AttemptFiles(warehouse).read() == (_attempt(5), lock.to_record)


def test_the_same_process_taking_the_lock_twice_is_told_so(tmp_path):
    warehouse = tmp_path / "rwe.duckdb"
    mine = replace(_attempt(1), pid=os.getpid())
    lock = WarehouseLock.acquire(warehouse, mine)
    with pytest.raises(WarehouseBusy, match="this process already holds the warehouse"):
        WarehouseLock.acquire(warehouse, replace(_attempt(2), pid=os.getpid()))
    assert lock.holder == mine


def test_an_unreadable_marker_is_kept_aside_and_blocks_nothing(tmp_path):
    warehouse = tmp_path / "rwe.duckdb"
    files = AttemptFiles(warehouse)
    files.marker.write_text("{not json")
    lock = WarehouseLock.acquire(warehouse, _attempt(1))
    assert lock.to_record == []
    assert files.marker.with_name(files.marker.name + ".unreadable").read_text() == "{not json"
