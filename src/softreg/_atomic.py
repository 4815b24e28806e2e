"""Atomic file and folder writes: a crash leaves the old content or the new, never half.

The new content goes to a temporary name in the destination's folder, is flushed and
fsync'ed, and is then renamed over the destination (``os.replace``, atomic on POSIX and
Windows). On any error the temporary file is removed and the destination is untouched.

A process killed inside that window leaves its temporary ``.NAME.XXXXXXXX.tmp`` behind; the
next write of ``NAME`` removes such leftovers of our own naming once they are older than
:data:`STALE_SECONDS` (a younger one may belong to a writer still at work). An ``OSError``
while writing (a full disk, a quota) is re-raised naming the destination.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

#: a temporary of ours this much older than now is a leftover of a killed writer (seconds)
STALE_SECONDS = 600.0
#: what ``tempfile.mkstemp`` adds between our prefix and suffix
_RANDOM_PART = re.compile(r"[a-z0-9_]{8}")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", **open_kwargs) -> Iterator:
    """Open a temporary file next to ``path``; on success rename it to ``path``.

    Parameters
    ----------
    path : path-like
        Destination. Its folder must exist.
    mode : {"wb", "w"}
        Binary or text mode.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {str(folder)!r} does not exist (writing {str(path)!r})")
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        os.chmod(tmp, _mode(path, 0o666))
        with os.fdopen(fd, mode, **open_kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(folder)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if e.filename is None and e.errno is not None:
            # "No space left on device" alone does not say where: name the destination
            raise type(e)(e.errno, e.strerror or str(e), str(path)) from e
        raise
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def remove_stale_temporaries(path: str | os.PathLike, older_than: float = STALE_SECONDS
                             ) -> list[str]:
    """Remove the ``.NAME.XXXXXXXX.tmp`` files a killed :func:`atomic_write` of ``path`` left.

    Only regular files of exactly our naming (``NAME`` being ``path``'s name) whose last
    change is more than ``older_than`` seconds ago are removed; errors are ignored.

    Returns
    -------
    list of str
        The names removed.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    prefix, removed = f".{path.name}.", list[str]()
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".tmp")
                and _RANDOM_PART.fullmatch(name[len(prefix):-len(".tmp")])):
            continue
        with contextlib.suppress(OSError):
            st = entry.stat(follow_symlinks=False)
            if entry.is_file(follow_symlinks=False) and now - st.st_mtime > older_than:
                os.unlink(entry.path)
                removed.append(name)
    return removed


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; on success it replaces ``path``.

    An existing ``path`` is swapped out and deleted only after the new folder is in place.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"folder {str(parent)!r} does not exist (writing {str(path)!r})")
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent))
    try:
        os.chmod(tmp, _mode(path, 0o777))
        yield tmp
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=parent))
            os.replace(path, old / "previous")
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        _fsync_dir(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _mode(path: Path, default: int) -> int:
    """The permissions of an existing ``path``, else ``default`` less the umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return default & ~umask


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
