"""One run per output folder: an exclusive lock on a file in ``--out``.

``out_dir_lock(out)`` opens ``<out>/.jumpup.lock`` and takes an exclusive, non-blocking
``flock`` on it (atomic in the kernel), writes the holder (process id, host, command, start time)
into it and removes the file when the run ends, whether it succeeded or failed. A second run on
the same folder meanwhile is refused with ``OutputLocked``, naming the holder.

Stale locks: the kernel drops the lock when its process ends, however it ends (crash, kill -9,
power loss), so a lock file left behind by a dead run holds no lock and the next run simply takes
it. Nothing needs deleting by hand. ``flock`` is per machine: two hosts writing one network
folder are not kept apart, so give each host its own ``--out``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

LOCK_NAME = ".jumpup.lock"


class OutputLocked(RuntimeError):
    """Another live run holds the output folder's lock."""


def check_out_dir(out_dir: Path) -> Path:
    """``out_dir`` as a ``Path``; raises ``NotADirectoryError`` naming it when it is an existing
    file, so a command refuses such an ``--out`` before it reads or computes anything."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "exists and is not a folder; choose another --out", str(out_dir))
    return out_dir


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        return f"{info['command']}, pid {info['pid']} on {info['host']} since {info['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"


@contextlib.contextmanager
def out_dir_lock(out_dir: Path, command: str) -> Iterator[Path]:
    """Hold the lock of ``out_dir`` for the duration of the block; yields the lock file's path.

    Raises ``OutputLocked`` when a live run holds it, and ``OSError`` when the folder cannot be
    created or written (read-only, full).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / LOCK_NAME
    while True:
        handle = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            raise OutputLocked(
                f"{out_dir} is in use by another run ({_holder(path)}); wait for it to finish or use another --out"
            ) from None
        # the file may have been removed by the previous holder between open and lock: lock the live one
        try:
            same = os.fstat(handle).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(handle)
    try:
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command,
            "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(handle, 0)
        os.write(handle, (json.dumps(record) + "\n").encode())
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.close(handle)


@contextlib.contextmanager
def removed_on_failure(out_dir: Path, resumable: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """On an error in the block, remove what the block created under ``out_dir``, and nothing else.

    A folder that did not exist before (with any parent folders the block made for it) is removed
    whole; in a folder that existed, only the files and folders that were not there before go, so
    an earlier run's outputs are never deleted (a file the block rewrote keeps its new content).
    Left as they are: a busy folder (``OutputLocked``: it belongs to another run) and, when
    ``resumable(out_dir)`` says a rerun can resume from what is there, an interruption
    (``KeyboardInterrupt``; ``jumpup round`` resumes from ``<out>/.stages``). Any other
    interruption is cleaned up like an error. The error is raised again after the cleanup.
    """
    out_dir = Path(out_dir)
    top = out_dir
    while not top.exists() and not top.parent.exists() and top.parent != top:
        top = top.parent
    existed = out_dir.exists()
    before = set(out_dir.rglob("*")) if existed else set()

    def remove_what_was_made() -> None:
        if not existed:
            if top.is_dir():
                shutil.rmtree(top, ignore_errors=True)
            return
        new = set(out_dir.rglob("*")) - before
        for path in sorted(new):
            if path.parent in new or not (path.exists() or path.is_symlink()):
                continue  # inside a new folder (removed with it) or gone already
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    try:
        yield out_dir
    except OutputLocked:
        raise
    except KeyboardInterrupt:
        if resumable is None or not resumable(out_dir):
            remove_what_was_made()
        raise
    except Exception:
        remove_what_was_made()
        raise
