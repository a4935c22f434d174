"""The worker: one background thread per app process claims queued jobs and runs them.

Claiming uses FOR UPDATE SKIP LOCKED, so the processes of a Gunicorn server (or several
servers on one database) never run a job twice at once. While a job runs, a second thread
beats its heartbeat every few seconds in a short transaction of its own; a job whose heartbeat
is older than `stale_after` seconds lost its process (killed, crashed, restarted) and is
queued again, or failed with a clear error once it has used up its attempts. The work and the
"done" status commit in one transaction, and only while this worker still owns the job: a
job is applied whole, once, or not at all.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from inventory.db.models import Job, JobInput
from inventory.errors import DomainError

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
STALE_AFTER_SECONDS = 60.0
POLL_SECONDS = 1.0
# Progress is written at most this often (each write is a short transaction of its own).
PROGRESS_EVERY_SECONDS = 0.5
# Uploaded inputs no waiting job uses are removed after this long.
INPUT_RETENTION = "1 day"
# The work of one job may take minutes: the web's 30 s statement limit does not apply.
JOB_STATEMENT_TIMEOUT = "30min"


class JobFailed(Exception):
    """The job cannot be done; `errors` say why (by line for imports). Nothing is kept."""

    def __init__(
        self, message: str, errors: list[dict[str, Any]] | None = None, result: Any = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or [{"line": None, "field": None, "message": message}]
        self.result = result


@dataclass
class JobContext:
    """What a handler knows of its job."""

    job_id: int
    kind: str
    params: dict[str, Any]
    user_id: int | None
    attempt: int
    input_id: int | None
    report_progress: Callable[[float], None] = field(repr=False)
    load_input: Callable[[], tuple[str, bytes]] = field(repr=False)

    def progress(self, fraction: float) -> None:
        self.report_progress(fraction)

    def input(self) -> tuple[str, bytes]:
        """(file name, bytes) of the job's input."""
        return self.load_input()


Handler = Callable[[Session, JobContext], Any]


class JobRunner:
    """Runs the jobs of the kinds in `handlers`; `ensure_started()` in each process (the
    thread does not survive Gunicorn's fork, so it starts on first use after it)."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        handlers: Mapping[str, Handler],
        stale_after: float = STALE_AFTER_SECONDS,
        heartbeat: float = HEARTBEAT_SECONDS,
        poll: float = POLL_SECONDS,
    ) -> None:
        self.sessions = sessions
        self.handlers = dict(handlers)
        self.stale_after = stale_after
        self.heartbeat = heartbeat
        self.poll = poll
        self._wake = threading.Condition()
        self._woken = False
        self._busy = False
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._last_cleanup = 0.0
        self._failing = False

    # ---- lifecycle ---------------------------------------------------------------------

    def ensure_started(self) -> None:
        if self._stopped:
            return
        if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
            with self._wake:
                self._pid = os.getpid()
                self._busy = False
                self._thread = threading.Thread(target=self._loop, name="job-runner", daemon=True)
                self._thread.start()

    def wake(self) -> None:
        """A job was just submitted: look now instead of at the next poll."""
        self.ensure_started()
        with self._wake:
            self._woken = True
            self._wake.notify_all()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
        if self._thread is not None and self._pid == os.getpid():
            self._thread.join(timeout=30)

    def wait_idle(self, timeout: float = 120.0) -> bool:
        """True once no job waits or runs in the database (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.sessions() as session:
                waiting = session.scalar(
                    select(func.count())
                    .select_from(Job)
                    .where(Job.status.in_(("queued", "running")), Job.kind.in_(self.handlers))
                )
            if not waiting and not self._busy:
                return True
            self.wake()
            time.sleep(0.05)
        return False

    # ---- the loop ----------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopped:
            try:
                ran = self.run_one()
                self._failing = False
            except DBAPIError as exc:  # the database is away: try again at the next poll
                # Logged once per outage, not once per poll, and without a traceback.
                if not self._failing:
                    log.warning("job runner: database unavailable, retrying quietly (%s)", exc.orig)
                self._failing = True
                ran = False
            except Exception:
                if not self._failing:
                    log.exception("job runner: could not claim a job; retrying quietly")
                self._failing = True
                ran = False
            if ran:
                continue
            with self._wake:
                if not self._woken and not self._stopped:
                    self._wake.wait(self.poll)
                self._woken = False

    def run_one(self) -> bool:
        """Reclaim jobs whose process died, then claim and run one job; False if none."""
        with self.sessions() as session:
            self._reclaim_stale(session)
            self._cleanup_inputs(session)
            claimed = self._claim(session)
        if claimed is None:
            return False
        self._busy = True
        try:
            self._execute(claimed)
        finally:
            self._busy = False
        return True

    def _reclaim_stale(self, session: Session) -> None:
        stale = (
            select(Job.id)
            .where(
                Job.status == "running",
                Job.heartbeat_at
                < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, self.stale_after),
            )
            .with_for_update(skip_locked=True)
        )
        for job in session.scalars(select(Job).where(Job.id.in_(stale))):
            if job.attempts < job.max_attempts:
                log.warning(
                    "job %s: its process stopped (attempt %s); retrying", job.id, job.attempts
                )
                job.status, job.worker, job.progress = "queued", "", 0.0
            else:
                job.status, job.finished_at = "failed", func.now()
                message = (
                    f"the process running this job stopped {job.attempts} time(s); "
                    "nothing was applied — start it again"
                )
                job.errors = [{"line": None, "field": None, "message": message}]
        session.commit()

    def _cleanup_inputs(self, session: Session) -> None:
        if time.monotonic() - self._last_cleanup < 600:
            return
        self._last_cleanup = time.monotonic()
        session.execute(
            text(
                "DELETE FROM job_inputs i WHERE i.created_at < now() - CAST(:age AS interval) "
                "AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.input_id = i.id "
                "AND j.status IN ('queued', 'running'))"
            ),
            {"age": INPUT_RETENTION},
        )
        session.commit()

    def _claim(self, session: Session) -> _Claimed | None:
        waiting = (
            select(Job.id)
            .where(Job.status == "queued", Job.kind.in_(self.handlers))
            .order_by(Job.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:100]
        row = session.execute(
            update(Job)
            .where(Job.id == waiting)
            .values(
                status="running",
                attempts=Job.attempts + 1,
                worker=worker,
                started_at=func.now(),
                heartbeat_at=func.now(),
                progress=0.0,
            )
            .returning(Job.id, Job.kind, Job.params, Job.user_id, Job.attempts, Job.input_id)
        ).first()
        session.commit()
        if row is None:
            return None
        job_id, kind, params, user_id, attempts, input_id = row
        return _Claimed(job_id, kind, params, user_id, attempts, input_id, worker)

    # ---- one job -----------------------------------------------------------------------

    def _execute(self, claimed: _Claimed) -> None:
        stop = threading.Event()
        beat = threading.Thread(
            target=self._beat, args=(claimed, stop), name=f"job-{claimed.id}-heartbeat", daemon=True
        )
        beat.start()
        try:
            self._work(claimed)
        finally:
            stop.set()
            beat.join()

    def _work(self, claimed: _Claimed) -> None:
        context = JobContext(
            job_id=claimed.id,
            kind=claimed.kind,
            params=dict(claimed.params or {}),
            user_id=claimed.user_id,
            attempt=claimed.attempts,
            input_id=claimed.input_id,
            report_progress=_Progress(self, claimed),
            load_input=lambda: self._load_input(claimed),
        )
        with self.sessions() as session:
            try:
                session.execute(text(f"SET LOCAL statement_timeout = '{JOB_STATEMENT_TIMEOUT}'"))
                result = self.handlers[claimed.kind](session, context)
                finished = session.execute(
                    update(Job)
                    .where(
                        Job.id == claimed.id, Job.worker == claimed.worker, Job.status == "running"
                    )
                    .values(
                        status="done",
                        progress=1.0,
                        result=result,
                        errors=[],
                        finished_at=func.now(),
                    )
                )
                if finished.rowcount != 1:  # type: ignore[attr-defined]
                    # Another worker took the job over (this one looked dead): keep nothing.
                    log.warning("job %s: no longer ours; its work is discarded", claimed.id)
                    session.rollback()
                    return
                session.commit()
            except JobFailed as exc:
                session.rollback()
                self._fail(claimed, exc.errors, exc.result)
            except DomainError as exc:
                session.rollback()
                errors = [
                    {"line": None, "field": name, "message": "; ".join(map(str, messages))}
                    for name, messages in (exc.errors or {}).items()
                ] or [{"line": None, "field": None, "message": exc.detail}]
                self._fail(claimed, errors, None)
            except Exception as exc:
                session.rollback()
                log.exception("job %s (%s) failed", claimed.id, claimed.kind)
                message = (
                    f"the job stopped on an unexpected error ({type(exc).__name__}); "
                    "nothing was applied"
                )
                self._fail(claimed, [{"line": None, "field": None, "message": message}], None)

    def _fail(self, claimed: _Claimed, errors: list[dict[str, Any]], result: Any) -> None:
        with self.sessions() as session:
            session.execute(
                update(Job)
                .where(Job.id == claimed.id, Job.worker == claimed.worker)
                .values(status="failed", errors=errors, result=result, finished_at=func.now())
            )
            session.commit()

    def _load_input(self, claimed: _Claimed) -> tuple[str, bytes]:
        with self.sessions() as session:
            stored = session.get(JobInput, claimed.input_id) if claimed.input_id else None
            if stored is None:
                raise JobFailed("the uploaded file of this job is gone (expired); upload it again")
            return stored.filename, stored.data

    def _beat(self, claimed: _Claimed, stop: threading.Event) -> None:
        while not stop.wait(self.heartbeat):
            try:
                self.write_progress(claimed, None)
            except Exception:  # a missed beat is harmless; many missed ones reclaim the job
                log.warning("job %s: heartbeat failed", claimed.id, exc_info=True)

    def write_progress(self, claimed: _Claimed, fraction: float | None) -> None:
        values: dict[str, Any] = {"heartbeat_at": func.now()}
        if fraction is not None:
            values["progress"] = min(max(fraction, 0.0), 0.99)
        with self.sessions() as session:
            session.execute(
                update(Job)
                .where(Job.id == claimed.id, Job.worker == claimed.worker, Job.status == "running")
                .values(**values)
            )
            session.commit()


@dataclass(frozen=True)
class _Claimed:
    id: int
    kind: str
    params: dict[str, Any]
    user_id: int | None
    attempts: int
    input_id: int | None
    worker: str


class _Progress:
    """Writes progress now and then, never more often than PROGRESS_EVERY_SECONDS."""

    def __init__(self, runner: JobRunner, claimed: _Claimed) -> None:
        self.runner = runner
        self.claimed = claimed
        self.last = 0.0

    def __call__(self, fraction: float) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_SECONDS:
            return
        self.last = now
        try:
            self.runner.write_progress(self.claimed, fraction)
        except Exception:  # progress is for people watching; the work goes on
            log.warning("job %s: progress not written", self.claimed.id, exc_info=True)
