"""Write output files so that a reader never sees half a file.

The text goes to a temporary file beside the target, is flushed to disk, and
then renamed over the target in one step (atomic on POSIX and Windows). If
anything fails, or the run is interrupted, the temporary file is removed and
an existing target is left as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomically(path: str | Path, text: str) -> None:
    write_file_atomically(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_file_atomically(path: str | Path, write: Callable[[str], object]) -> None:
    """Call `write(temporary_path)`, then move the result to `path` in one step."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
