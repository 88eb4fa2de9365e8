"""Settings of the production profile that are derived from other settings.

    python -m core.settings tickets-db-url

prints the ticket database URL: TICKETS_DB_URL when set, else the tracker database
(TRACKER_DB_HOST, _PORT, _NAME, _USER, _PASSWORD) as a PostgreSQL URL with the user and
password URL-encoded. Tickets and Rasa's `events` table don't clash, so one database can hold
both. Used by scripts/run.sh and deploy/docker-entrypoint.sh.
"""

from __future__ import annotations

import os
import sys
from typing import Mapping, Optional


def tickets_db_url(environ: Optional[Mapping[str, str]] = None) -> str:
    from sqlalchemy.engine import URL

    env = os.environ if environ is None else environ
    if env.get("TICKETS_DB_URL"):
        return env["TICKETS_DB_URL"]
    return URL.create(
        "postgresql",
        env.get("TRACKER_DB_USER") or None,
        env.get("TRACKER_DB_PASSWORD") or None,
        env.get("TRACKER_DB_HOST") or "127.0.0.1",
        int(env.get("TRACKER_DB_PORT") or 5432),
        env.get("TRACKER_DB_NAME") or "alimail",
    ).render_as_string(hide_password=False)


if __name__ == "__main__":
    if sys.argv[1:] != ["tickets-db-url"]:
        sys.exit("usage: python -m core.settings tickets-db-url")
    try:
        print(tickets_db_url())
    except ValueError:
        sys.exit(f"TRACKER_DB_PORT must be a port number, not {os.environ.get('TRACKER_DB_PORT')!r}")
