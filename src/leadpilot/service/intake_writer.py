"""SQLite: one thread takes in every ``POST /v1/leads`` of the process, several per commit.

Why: SQLite has one writer at a time, so intakes run one after the other whatever thread
runs them; on the request thread pool each paid a thread hand-off of its own and a commit
of its own, an fsync with ``synchronous=FULL`` (1-10 ms, most of an intake's time under the
write lock on a busy disk). This thread takes the intakes waiting when it is free, runs
them in one transaction (``RoutingService.intake_many``: a savepoint each) and commits once:
under load the fsync and the hand-off are shared, and when idle a batch is a single intake,
as before. A request is answered only once its batch committed, so a 2xx still means its
decision is stored. PostgreSQL does not use it: its intakes lock per pool and run side by
side on the request thread pool, and PostgreSQL groups concurrent commits itself.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future

from leadpilot.service.core import IntakeRequest, RoutingService
from leadpilot.service.outcomes import IntakeOutcome

__all__ = ["IntakeWriter"]

log = logging.getLogger("leadpilot.service")

# At most this many intakes share a commit: the first of a batch waits for the others'
# routing (~2-4 ms each) before its answer, so a long batch would trade tail latency for
# fsyncs saved.
MAX_BATCH = 8

Prepare = Callable[[], IntakeRequest]


class IntakeWriter:
    """The intake thread of one SQLite service. ``submit`` a request's preparation (token
    check and validation, run on this thread before the transaction, outside it: a first
    look-up of a token may write its last use) and await its outcome."""

    def __init__(self, service: RoutingService, *, max_batch: int = MAX_BATCH) -> None:
        self._service = service
        self._max_batch = max_batch
        self._jobs: deque[tuple[Prepare, Future[IntakeOutcome]]] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def submit(self, prepare: Prepare) -> Future[IntakeOutcome]:
        """Queue one intake; the future resolves once it committed (or with what refused
        it). Starts the thread on first use."""
        future: Future[IntakeOutcome] = Future()
        with self._cond:
            self._jobs.append((prepare, future))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="leadpilot-intake", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return future

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the queued intakes, then end the thread (a later ``submit`` starts
        another: an app may be started again)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        with self._cond:
            self._stopping = False

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._stopping:
                    self._cond.wait()
                if not self._jobs:
                    self._thread = None  # the next submit starts another
                    return
                batch = [self._jobs.popleft() for _ in range(min(self._max_batch, len(self._jobs)))]
            try:
                self._run_batch(batch)
            except BaseException as exc:  # never leave a request waiting
                log.exception("intake batch failed")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)

    def _run_batch(self, batch: list[tuple[Prepare, Future[IntakeOutcome]]]) -> None:
        ready: list[tuple[IntakeRequest, Future[IntakeOutcome]]] = []
        for prepare, future in batch:
            if not future.set_running_or_notify_cancel():
                continue
            try:
                ready.append((prepare(), future))
            except Exception as exc:  # refused before anything is written (401, 422)
                future.set_exception(exc)
        if not ready:
            return
        results = self._service.intake_many([request for request, _ in ready])
        for (_, future), result in zip(ready, results, strict=True):
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
