"""Safe file output: atomic writes, appends that many processes can share, paths checked up front.

* :func:`atomic_write` - a crash leaves the old file or the new one, never half
  of one; the temporaries of writers that were killed are removed by the next.
* :func:`append_line` / :func:`read_text_locked` - a JSON-lines file that
  several processes append to at once keeps every line.
* :func:`check_writable` - an output path that cannot be written fails before
  the work that would fill it, not after.
* :func:`claim` - one process at a time: a lock the system releases when its holder dies.
* :func:`cache_dir` - where downloaded and decompressed files are kept.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from .errors import SETutorialError

try:  # POSIX advisory locks; Windows locks a byte range instead
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt


class OutputPathError(SETutorialError, OSError):
    """An output path is a directory, lies under a file, or cannot be written."""


def cache_dir() -> Path:
    """Where decompressed and fetched copies are kept: ``$SE_TUTORIAL_CACHE`` or ``~/.cache/se_tutorial``."""
    return Path(os.environ.get("SE_TUTORIAL_CACHE") or Path.home() / ".cache" / "se_tutorial")


def _temporary_prefix(path: Path) -> str:
    return f".{path.name}."


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it over ``path``.

    The rename is atomic on POSIX and Windows, so readers never see a partial
    file; on any error the temporary file is removed and ``path`` is untouched.
    A process killed outright (SIGKILL, power loss) cannot clean up, so the
    temporary's name carries the writer's process id, and the next write to
    ``path`` removes the temporaries whose writer no longer runs.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_orphaned_temporaries(path)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f"{_temporary_prefix(path)}{os.getpid()}.", suffix=".tmp"
    )
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would have.
        os.chmod(temporary, path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask())
        with os.fdopen(descriptor, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def remove_orphaned_temporaries(path: Path) -> list[Path]:
    """Remove the temporaries of writes to ``path`` whose process has died; returns them."""
    pattern = re.compile(re.escape(_temporary_prefix(path)) + r"(\d+)\..+\.tmp")
    removed = []
    for candidate in path.parent.glob(f"{_temporary_prefix(path)}*.tmp"):
        match = pattern.fullmatch(candidate.name)
        if match and not _process_is_alive(int(match[1])):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def _process_is_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # our own: another thread may be writing it
    try:
        os.kill(pid, 0)  # signal 0 checks existence without sending anything
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # it exists (owned by someone else), or we cannot tell: keep its file
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda file: file.write(text.encode("utf-8")))


@contextlib.contextmanager
def _locked(file: IO, exclusive: bool) -> Iterator[None]:
    """Hold an advisory lock on an open file: exclusive for writers, shared for readers."""
    if fcntl is not None:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(file.fileno(), fcntl.LOCK_UN)
    else:  # pragma: no cover - Windows has no shared locks; lock the first byte exclusively
        file.seek(0)
        msvcrt.locking(file.fileno(), msvcrt.LK_LOCK, 1)
        try:
            yield
        finally:
            file.seek(0)
            msvcrt.locking(file.fileno(), msvcrt.LK_UNLCK, 1)


@contextlib.contextmanager
def claim(path: str | Path) -> Iterator[bool]:
    """Try to hold an exclusive lock on the file ``path`` (created if need be) for a while.

    Yields ``True`` while this process holds it, ``False`` at once if another
    process does: the way two processes agree that only one of them trains a
    run or writes a checkpoint. The operating system releases the lock when
    its holder exits, however it exits, so a killed process never leaves a
    stale claim behind. The file stays (empty); it only carries the lock.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as file:
        if not _try_lock(file):
            yield False
            return
        try:
            yield True
        finally:
            _unlock(file)


def wait_for_claim(path: str | Path) -> None:
    """Block until no process holds the claim on ``path`` (see :func:`claim`)."""
    with open(path, "a+b") as file, _locked(file, exclusive=True):
        pass


def _try_lock(file: IO) -> bool:
    if fcntl is not None:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    file.seek(0)  # pragma: no cover - Windows
    try:
        msvcrt.locking(file.fileno(), msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


def _unlock(file: IO) -> None:
    if fcntl is not None:
        fcntl.flock(file.fileno(), fcntl.LOCK_UN)
    else:  # pragma: no cover - Windows
        file.seek(0)
        msvcrt.locking(file.fileno(), msvcrt.LK_UNLCK, 1)


def append_line(path: str | Path, line: str) -> None:
    """Append ``line`` (a newline is added) to ``path`` and fsync, under an exclusive lock.

    Any number of processes may append to one file at once: each line lands
    whole and none is lost. If a writer was killed mid-line, the new line
    starts on a line of its own, so only the torn line is damaged.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as file, _locked(file, exclusive=True):
        file.seek(0, os.SEEK_END)
        if file.tell() > 0:
            file.seek(-1, os.SEEK_END)
            if file.read(1) != b"\n":
                file.write(b"\n")
        file.write(line.rstrip("\n").encode("utf-8") + b"\n")
        file.flush()
        os.fsync(file.fileno())


def read_text_locked(path: str | Path) -> str:
    """The text of ``path`` read under a shared lock (never half of a line being appended)."""
    with open(path, "rb") as file, _locked(file, exclusive=False):
        return file.read().decode("utf-8")


def check_writable(path: str | Path, what: str, *, directory: bool = False) -> Path:
    """Check, without writing anything, that ``path`` can be created or replaced.

    ``what`` names the path for the message (e.g. ``"--out"``). Raises
    :class:`OutputPathError` when ``path`` is a directory (or, with
    ``directory=True``, a file), lies under a file, or its nearest existing
    folder is not writable. Missing folders are fine: writers create them.
    """
    path = Path(path)
    if not directory and path.is_dir():
        raise OutputPathError(
            f"{what} {path} is a directory, but a file is written there; "
            f"name a file inside it, e.g. {path / 'run.json'}."
        )
    if directory and path.exists() and not path.is_dir():
        raise OutputPathError(
            f"{what} {path} is a file, but a folder is needed there; remove the file or choose another folder."
        )
    folder = path if directory else path.parent
    existing = folder
    while not existing.exists():  # the first folder that exists; writers create the rest
        existing = existing.parent
    if not existing.is_dir():
        raise OutputPathError(
            f"{what} {path} lies under {existing}, which is a file, not a folder; "
            "choose a path whose parents are folders."
        )
    problem = _creation_problem(existing)
    if problem:
        raise OutputPathError(
            f"{what} {path} cannot be written: {existing} refuses new files ({problem}); "
            "choose a writable location, or make room there."
        )
    return path


def _creation_problem(folder: Path) -> str | None:
    """Why a file cannot be created in ``folder``, or ``None``: tried for real, since root ignores modes."""
    try:
        descriptor, probe = tempfile.mkstemp(dir=folder, prefix=".write-check.", suffix=".tmp")
    except OSError as error:
        return error.strerror or type(error).__name__
    os.close(descriptor)
    os.unlink(probe)
    return None
