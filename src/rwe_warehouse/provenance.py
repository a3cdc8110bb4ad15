"""Stamps that every published result row carries, and the id of the dbt run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

#: strftime layout of a run id: the dbt invocation's start (UTC) to the
#: microsecond. macros/record_run.sql writes the same layout into audit.run_log,
#: so run_log.run_id, run_info.run_id and the published version directory match.
RUN_ID_FORMAT = "run_%Y%m%dT%H%M%S_%fZ"


@dataclass(frozen=True)
class DbtRun:
    """Who is building: the run id, dbt's invocation id and when the invocation started."""

    run_id: str
    invocation_id: str
    started_at: datetime  # UTC, naive


def run_id_for(started_at: datetime) -> str:
    """The run id of an invocation that started at ``started_at`` (UTC)."""
    if started_at.tzinfo is not None:
        started_at = started_at.astimezone(UTC).replace(tzinfo=None)
    return started_at.strftime(RUN_ID_FORMAT)


def current_dbt_run() -> DbtRun:
    """The dbt invocation this Python model runs in.

    dbt-duckdb runs Python models inside the dbt process, so the invocation id
    and start time are the ones Jinja sees as ``invocation_id`` and
    ``run_started_at`` (the on-run-end hook logs the same values).
    """
    from dbt import tracking
    from dbt_common.invocation import get_invocation_id

    if tracking.active_user is None:
        raise RuntimeError("not inside a dbt invocation: no run_started_at to name the run by")
    started_at = tracking.active_user.run_started_at.astimezone(UTC).replace(tzinfo=None)
    return DbtRun(run_id=run_id_for(started_at), invocation_id=get_invocation_id(),
                  started_at=started_at)


def with_run_stamp(table: pd.DataFrame, built_at: datetime | None = None) -> pd.DataFrame:
    """Add the ``built_at`` column (UTC, whole seconds) every result row carries."""
    stamp = (built_at or datetime.now(UTC)).replace(microsecond=0, tzinfo=None)
    return table.assign(built_at=pd.Series(pd.Timestamp(stamp), index=table.index,
                                           dtype="datetime64[us]"))
