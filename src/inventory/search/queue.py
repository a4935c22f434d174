"""The per-process queue that embeds items whose vectors went stale, after their change commits."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from inventory.embeddings import Embedder
from inventory.search.refresh import PENDING
from inventory.search.vectors import embed_items

log = logging.getLogger(__name__)

EMBED_BATCH = 64


class EmbeddingQueue:
    """Embeds items whose vectors went stale (e.g. under a renamed location) in batches, on
    one background thread per process, after the change that caused it has committed.

    `attach()` listens to commits of sessions made by `sessions`; the thread starts on first
    use in each process, so a queue built before Gunicorn forks works in every worker.
    Failures are logged, never raised: stale rows stay marked and `search reindex` redoes them.
    """

    def __init__(
        self, *, sessions: sessionmaker[Session], embedder: Embedder, batch_size: int = EMBED_BATCH
    ) -> None:
        self.sessions = sessions
        self.embedder = embedder
        self.batch_size = batch_size
        self._pending: set[int] = set()
        self._busy = False
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def attach(self) -> None:
        event.listen(self.sessions, "after_commit", self._after_commit)
        event.listen(self.sessions, "after_rollback", self._after_rollback)

    def _after_commit(self, session: Session) -> None:
        ids = session.info.pop(PENDING, None)
        if ids:
            self.submit(ids)

    @staticmethod
    def _after_rollback(session: Session) -> None:
        session.info.pop(PENDING, None)

    def submit(self, ids: Iterable[int]) -> None:
        with self._lock:
            self._pending.update(ids)
            self._ensure_thread()
            self._lock.notify_all()

    def pending(self) -> int:
        """How many items wait for new vectors in this process."""
        with self._lock:
            return len(self._pending)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """True once nothing is pending or being embedded (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def _ensure_thread(self) -> None:
        # Threads do not survive fork(): each process starts its own.
        if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="embedding-queue", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._pending:
                    self._busy = False
                    self._lock.notify_all()
                    self._lock.wait()
                batch = sorted(self._pending)[: self.batch_size]
                self._pending.difference_update(batch)
                self._busy = True
            self._embed(batch)

    def _embed(self, batch: list[int]) -> None:
        try:
            with self.sessions() as session:
                embed_items(session=session, item_ids=batch, embedder=self.embedder)
                session.commit()
        except Exception:  # logged; the rows stay stale for `search reindex`
            log.exception("embedding %d item(s) failed", len(batch))
