"""Files written whole or not at all: under a temporary name beside the target, renamed over
it when complete. Readers see the old file or the new one, never half of it; a failure (or an
exception such as KeyboardInterrupt) removes the temporary file."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

# Temporary names are hidden and end so: what a crash leaves behind can be recognised.
TEMP_SUFFIX = ".tmp"


def temporary_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.{time.monotonic_ns()}{TEMP_SUFFIX}")


def is_temporary(path: Path) -> bool:
    return path.name.startswith(".") and path.name.endswith(TEMP_SUFFIX)


@contextmanager
def atomic_file(target: Path, *, mode: int = 0o644) -> Iterator[BinaryIO]:
    """A binary file to write that replaces `target` (with permissions `mode`) on success."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = temporary_name(target)
    try:
        with temp.open("xb") as handle:
            temp.chmod(mode)  # before any byte is written: secrets are never readable by others
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_atomically(target: Path, data: bytes | str, *, mode: int = 0o644) -> None:
    with atomic_file(target, mode=mode) as handle:
        handle.write(data.encode() if isinstance(data, str) else data)
