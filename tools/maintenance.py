"""What `tools.purge` and `tools.scrub` share: one run per store at a time, URLs shown without their
password, and the exit codes.

Exit codes: 0 done (also when there was nothing to do, or no store yet), 1 a store could not be
read or written (the other store is still processed), 2 a usage error or an invalid setting,
3 another purge or scrub holds the store's lock (that store is left alone; try again later).

The lock: PostgreSQL's session advisory lock (one per store and database, so two machines'
cron jobs exclude each other), an SQLite file's `flock` on `<file>.maintenance.lock` next to it.
Without the lock the library calls are still safe and their counts exact (each batch re-checks
in its own transaction); the lock only saves a second run the wasted work.
"""

from __future__ import annotations

import fcntl
import hashlib
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, List

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

OK, FAILED, USAGE, BUSY = 0, 1, 2, 3


class Busy(RuntimeError):
    """Another purge or scrub is working on this store."""


def safe_url(url: str) -> str:
    """`url` with its password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a database URL)"


def _lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for `name`."""
    return int.from_bytes(hashlib.sha256(f"alimail-maintenance:{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def store_lock(url: str, name: str, timeout_seconds: float = 10.0) -> Iterator[None]:
    """Hold the maintenance lock `name` ("trackers", "tickets") of the database at `url`; Busy if taken."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        engine = sa.create_engine(
            parsed,
            poolclass=NullPool,
            hide_parameters=True,
            connect_args={"connect_timeout": max(1, int(timeout_seconds))},
        )
        try:
            with engine.connect() as connection:
                taken = connection.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": _lock_key(name)})
                if not taken.scalar():
                    raise Busy(f"another purge or scrub is working on the {name} of {safe_url(url)}")
                try:
                    yield
                finally:
                    connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _lock_key(name)})
        finally:
            engine.dispose()
    elif backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database).expanduser()
        if not path.is_file():
            yield  # no database: nothing will be written
            return
        with open(f"{path}.maintenance.lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise Busy(f"another purge or scrub is working on {path}") from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    else:
        yield  # other databases: no lock (still safe, see the module's docstring)


def run_step(label: str, url: str, lock_name: str, step: Callable[[], str], missing: tuple) -> int:
    """Run `step` (which returns the line to print) under the store's lock; print its line or the problem.

    `missing` are the exception classes that mean "no store there yet" (printed, exit code OK).
    """
    where = f"{label} {safe_url(url)}"
    try:
        with store_lock(url, lock_name):
            line = step()
    except Busy as error:
        print(f"{where}: skipped, {error}", file=sys.stderr)
        return BUSY
    except missing as error:
        print(f"{where}: nothing to do, {error}")
        return OK
    except (SQLAlchemyError, ArgumentError, ImportError, OSError, ValueError) as error:
        detail = str(getattr(error, "orig", None) or error).strip().splitlines()
        print(f"{where}: failed: {detail[0] if detail else type(error).__name__}", file=sys.stderr)
        return FAILED
    print(f"{where}: {line}")
    return OK


def worst(codes: List[int]) -> int:
    """One exit code for several stores: a failure first, then busy, else OK."""
    for code in (FAILED, BUSY):
        if code in codes:
            return code
    return OK
