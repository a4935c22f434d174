"""Scheduled backups: one every interval, keeping the newest N archives."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from inventory.errors import InvalidInput

log = logging.getLogger(__name__)

SCHEDULED_PATTERN = "inventory-backup-*.tar"  # what rotation may delete; nothing else
_INTERVAL = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_interval(text: str) -> timedelta:
    """'30m', '24h', '7d' → a timedelta; anything else is refused, naming the value."""
    match = _INTERVAL.match(text)
    if match is None or int(match[1]) == 0:
        raise InvalidInput(f"interval {text!r}: use a positive number with s, m, h or d (24h)")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def prune(folder: Path, *, keep: int) -> list[Path]:
    """Delete all but the newest `keep` scheduled archives in `folder`; returns the deleted."""
    archives = sorted(folder.glob(SCHEDULED_PATTERN), key=lambda path: path.name, reverse=True)
    doomed = archives[keep:]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def run_scheduled(
    *,
    take_backup: Callable[[], Path],
    folder: Path,
    every: timedelta,
    keep: int,
) -> None:
    """Back up now and then once per `every`, keeping the newest `keep` archives. A failed
    round is logged and retried at the next one: the schedule itself never stops."""
    while True:
        started = time.monotonic()
        try:
            path = take_backup()
            removed = prune(folder, keep=keep)
            log.info("backup written to %s; %d old archive(s) removed", path, len(removed))
        except Exception:
            log.exception("scheduled backup failed; next attempt in %s", every)
        time.sleep(max(0.0, every.total_seconds() - (time.monotonic() - started)))
