"""The delivery worker (issue 16): runs the outbox's delivery passes (`TicketDesk.deliver_due`,
tickets/outbox.py) in a daemon thread of the action server, or in the foreground
(`make tickets ARGS='deliver --loop'`).
"""

from __future__ import annotations

import logging
import threading
from typing import Optional

from tickets.outbox import TicketDesk
from tickets.store import StoreUnavailable

# The outbox's logger, as before the worker had its own module: the same log lines.
logger = logging.getLogger("tickets.outbox")


class DeliveryWorker:
    """Runs `desk.deliver_due()` every TICKET_OUTBOX_INTERVAL seconds, and at once when `desk.kick` is
    set, in a daemon thread (the action server's process; README, Ticket backends)."""

    def __init__(self, desk: TicketDesk, interval: Optional[float] = None) -> None:
        self.desk = desk
        self.interval = interval if interval is not None else desk.settings.ticket_outbox_interval
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "DeliveryWorker":
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="ticket-outbox", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.desk.kick.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.desk.kick.clear()
            try:
                self.desk.deliver_due()
            except StoreUnavailable as error:
                logger.error("ticket outbox: database unavailable: %s", error)
            except Exception:  # the worker must outlive any single failure
                logger.exception("ticket outbox: delivery pass failed")
            self.desk.kick.wait(self.interval)


def run_forever(desk: TicketDesk, interval: float) -> None:
    """`make tickets ARGS='deliver --loop'`: the worker in the foreground (when TICKET_OUTBOX_WORKER=false)."""
    while True:
        counts = desk.deliver_due()
        if any(counts[k] for k in ("delivered", "retry", "rejected")):
            logger.info("ticket outbox pass: %s", counts)
        desk.kick.wait(interval)
        desk.kick.clear()
