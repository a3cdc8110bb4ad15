"""The lock and the attempt marker beside a warehouse file (see rwe_warehouse.attempts).

``<warehouse>.lock``
    An empty file on which the holder keeps an exclusive ``flock`` until its
    process ends. The kernel drops the lock when the process dies, however it
    dies, so a dead holder never blocks the next one.
``<warehouse>.attempts.json``
    Written (atomically) only by the lock's holder: ``holder``, the attempt
    that holds or last held the lock (``ended_at`` is set when its process
    exits through Python's exit handlers, which a kill skips), and
    ``to_record``, earlier attempts that had no run_log row when the holder
    started.
``<warehouse>.refused.<run_id>.json``
    Left by a build or run that found the lock taken, for the next holder.

Plain standard library: no dbt, no DuckDB.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

LOCK_SUFFIX = ".lock"
MARKER_SUFFIX = ".attempts.json"
REFUSED_INFIX = ".refused."
#: The dbt commands audit.run_log has one row per invocation for (record_run
#: in macros/record_run.sql checks the same list).
RUN_LOG_COMMANDS = ("build", "run")


@dataclass(frozen=True)
class Attempt:
    """One dbt invocation against the warehouse, as the marker keeps it."""

    run_id: str  # as in audit.run_log.run_id (rwe_warehouse.provenance.RUN_ID_FORMAT)
    dbt_invocation_id: str
    command: str  # dbt sub-command: build, run, test, docs, ...
    pid: int
    host: str
    started_at: str  # UTC, ISO 8601, no offset (the invocation's run_started_at)
    dbt_version: str
    log_file: str
    ended_at: str | None = None  # set by the exit handler; a killed process has none
    refused_by: str | None = None  # the holder's description, for a refused attempt

    @property
    def is_in_run_log(self) -> bool:
        """Whether audit.run_log has (or is to have) a row for this kind of invocation."""
        return self.command in RUN_LOG_COMMANDS

    def describe(self) -> str:
        started = self.started_at[:19].replace("T", " ")
        return f"run {self.run_id}, pid {self.pid}, started {started} UTC"


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse's lock."""


@dataclass(frozen=True)
class AttemptFiles:
    """The lock, marker and refused-attempt files beside one warehouse file."""

    warehouse: Path

    def _beside(self, suffix: str) -> Path:
        return self.warehouse.with_name(self.warehouse.name + suffix)

    @property
    def lock(self) -> Path:
        return self._beside(LOCK_SUFFIX)

    @property
    def marker(self) -> Path:
        return self._beside(MARKER_SUFFIX)

    def refused(self, run_id: str) -> Path:
        return self._beside(f"{REFUSED_INFIX}{run_id}.json")

    def refused_files(self) -> list[Path]:
        return sorted(self.warehouse.parent.glob(f"{self.warehouse.name}{REFUSED_INFIX}*.json"))

    def read(self) -> tuple[Attempt | None, list[Attempt]]:
        """The marker's holder and attempts to record; (None, []) before the first build."""
        try:
            content = json.loads(self.marker.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None, []
        holder = content.get("holder")
        return (Attempt(**holder) if holder else None,
                [Attempt(**attempt) for attempt in content.get("to_record", [])])

    def write(self, holder: Attempt, to_record: list[Attempt]) -> None:
        _write_atomically(self.marker, {"holder": asdict(holder),
                                        "to_record": [asdict(attempt) for attempt in to_record]})


class WarehouseLock:
    """The lock on one warehouse, held by this process until it exits."""

    def __init__(self, files: AttemptFiles, descriptor: int, holder: Attempt,
                 to_record: list[Attempt]):
        self.files = files
        self._descriptor = descriptor  # open until the process ends: that holds the lock
        self.holder = holder
        self.to_record = to_record

    @classmethod
    def acquire(cls, warehouse: Path, attempt: Attempt) -> WarehouseLock:
        """Take the warehouse's lock for ``attempt``, or leave a refused-attempt
        file (for a build or run) and raise :class:`WarehouseBusy`.

        The previous holder and the refused attempts, if run_log logs their
        command, join the attempts to record; the marker then names
        ``attempt`` as the holder.
        """
        files = AttemptFiles(warehouse)
        try:
            warehouse.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(files.lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise RuntimeError(f"cannot create the lock {files.lock}: {error}") from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise WarehouseBusy(_refuse(files, attempt)) from None
        try:
            previous, to_record = files.read()
        except (ValueError, TypeError):  # edited by hand or from another release: keep aside
            files.marker.replace(files.marker.with_name(files.marker.name + ".unreadable"))
            previous, to_record = None, []
        refused_files = files.refused_files()
        earlier = [previous] if previous is not None else []
        for path in refused_files:
            try:
                earlier.append(Attempt(**json.loads(path.read_text(encoding="utf-8"))))
            except (ValueError, TypeError):  # half-written by a killed process: nothing to say
                pass
        known = {attempt.run_id for attempt in to_record}
        to_record += [attempt for attempt in earlier
                      if attempt.is_in_run_log and attempt.run_id not in known]
        files.write(attempt, to_record)
        for path in refused_files:  # in the marker now
            path.unlink(missing_ok=True)
        return cls(files, descriptor, attempt, to_record)

    def keep_unrecorded(self, recorded_run_ids: set[str]) -> list[Attempt]:
        """Drop the attempts run_log already has; return the others (still to record)."""
        self.to_record = [attempt for attempt in self.to_record
                          if attempt.run_id not in recorded_run_ids]
        self.files.write(self.holder, self.to_record)
        return self.to_record

    def release(self) -> None:
        """Give the lock up before the process ends (a build keeps it until then)."""
        os.close(self._descriptor)

    def mark_ended(self) -> None:
        """Note in the marker that this process exited (normally or on an error)."""
        self.holder = replace(self.holder, ended_at=_utc_now())
        self.files.write(self.holder, self.to_record)


def _refuse(files: AttemptFiles, attempt: Attempt) -> str:
    """The one-line refusal; a build or run also leaves its refused-attempt file."""
    try:
        holder, _ = files.read()
    except (OSError, ValueError, TypeError):  # mid-replace or foreign: still one line
        holder = None
    if holder is not None and holder.pid == os.getpid():
        return (f"this process already holds the warehouse {files.warehouse} "
                f"({holder.describe()}): run one dbt invocation per process")
    described = f" ({holder.describe()})" if holder is not None else ""
    if attempt.is_in_run_log:
        refused = replace(attempt, ended_at=_utc_now(),
                          refused_by=holder.describe() if holder is not None else "unknown")
        try:
            _write_atomically(files.refused(attempt.run_id), asdict(refused))
        except OSError:  # the refusal itself matters more than its record
            pass
    return f"another build holds the warehouse {files.warehouse}{described}"


def _write_atomically(path: Path, content: dict) -> None:
    """Write JSON under a temporary name, flush, rename: a kill leaves the old or the new file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps(content, indent=2))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _utc_now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
