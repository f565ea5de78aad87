"""Write output files so that a reader never sees half a file, and nothing else is harmed.

A regular file (or a path that does not exist yet) is written to a temporary file
beside it, flushed to disk and renamed over it in one step (atomic on POSIX and
Windows); if anything fails, or the run is interrupted, the temporary file is
removed and an existing file is left as it was. A symbolic link is followed, so
the file it points to is replaced and the link kept.

Anything that is not a regular file is never replaced: a device or a pipe
(`/dev/null`, `/dev/stdout`, a FIFO) is written into, as a user who names it
expects. `check` refuses, before any work is done, a path that cannot be written
(a missing folder, a folder that is a file, one without write permission), with a
one-line `OutputError` naming the path; write errors (a full disk) are the same.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from sharedsvc.errors import OutputError


def _special(path: Path) -> bool:
    """True for an existing path that is not a regular file (or a link to one)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _why(error: OSError) -> str:
    return error.strerror or str(error)


def check(path: str | Path) -> Path:
    """The path to write, once it is known to be writable; `OutputError` if it is not.

    Nothing is created or changed: a trial temporary file is made in the folder
    and removed, which catches read-only file systems that permission bits miss.
    """
    given = Path(path)
    try:
        if given.is_dir():
            raise OutputError(f"cannot write {given}: it is a folder")
        if _special(given):
            if not os.access(given, os.W_OK):
                raise OutputError(f"cannot write {given}: permission denied")
            return given
        target = given.resolve() if given.is_symlink() else given
        folder = target.parent
        if not folder.exists():
            raise OutputError(f"cannot write {given}: the folder {folder} does not exist")
        if not folder.is_dir():
            raise OutputError(f"cannot write {given}: {folder} is not a folder")
        fd, trial = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as error:
        raise OutputError(f"cannot write {given}: {_why(error)}") from None
    os.close(fd)
    os.unlink(trial)
    return target


def same_target(a: str | Path, b: str | Path) -> bool:
    """Whether two output paths name the same file (whether or not it exists yet)."""
    return Path(a).resolve() == Path(b).resolve()


def write_atomically(path: str | Path, text: str) -> None:
    """Write `text` (UTF-8) to `path`; see the module's note."""
    write_file_atomically(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_file_atomically(path: str | Path, write: Callable[[str], object]) -> None:
    """Call `write(temporary_path)`, then move the result to `path` in one step (or, for
    a device or pipe, copy it in). `OutputError` naming the path if it cannot be done."""
    given = Path(path)
    try:
        if _special(given):
            _write_into(given, write)
            return
        target = given.resolve() if given.is_symlink() else given
        _replace(target, write)
    except OSError as error:
        raise OutputError(f"cannot write {given}: {_why(error)}") from None


def _replace(target: Path, write: Callable[[str], object]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
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


def _write_into(device: Path, write: Callable[[str], object]) -> None:
    """Write the whole output to a private temporary file, then copy it into `device`."""
    with tempfile.TemporaryDirectory(prefix="sharedsvc-") as folder:
        tmp = Path(folder) / "output"
        write(str(tmp))
        with open(tmp, "rb") as source, open(device, "ab") as sink:
            shutil.copyfileobj(source, sink)
            sink.flush()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
