"""Durable files: the one atomic replace, directory fsync and append-only file.

Every file a run keeps goes through here, so there is one answer to "what is on
disk after a crash at any instant": the old or the new content of a replaced
file, and every acknowledged line of an append-only file (a torn last line was
never acknowledged and is dropped on reopen).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

TAIL_CHUNK = 8 * 1024  # a record is a few hundred bytes; longer lines read on


@contextlib.contextmanager
def file_lock(
    lock_path: Path, thread_lock: contextlib.AbstractContextManager[object]
) -> Iterator[None]:
    """Exclusive across threads (`thread_lock`) and processes (`flock` on `lock_path`,
    released by the kernel if the holder dies): the lock of a file that is replaced by
    rename and so cannot carry a lock itself."""
    with thread_lock:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_beside(path: Path, write: Callable[[BinaryIO], object], mode: int) -> str:
    """A temp file in `path`'s directory, written and fsynced; its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        if mode != 0o600:  # mkstemp creates 0600: the run's own files stay private
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def _replace_with(path: Path, write: Callable[[BinaryIO], object], mode: int = 0o600) -> None:
    """Temp file beside `path`, written, fsynced, renamed over it, directory fsynced."""
    tmp = _temp_beside(path, write, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace `path` with `data`: a crash leaves the old or the new content, never a mix."""
    _replace_with(path, lambda handle: handle.write(data), mode)


def create_exclusive(path: Path, data: bytes) -> None:
    """Create `path` with `data`, fsynced, only if it does not exist (FileExistsError if it does).

    Written to a temp file first and hard-linked into place, so the name appears
    whole or not at all, and a second creator can never replace the first.
    """
    tmp = _temp_beside(path, lambda handle: handle.write(data), 0o600)
    try:
        os.link(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    fsync_dir(path.parent)


def atomic_write_lines(path: Path, lines: Iterable[str]) -> None:
    """The same, streamed: for derived lists as long as a user pool."""

    def write(handle: BinaryIO) -> None:
        for line in lines:
            handle.write(line.encode("utf-8") + b"\n")

    _replace_with(path, write)


def last_line(path: Path) -> bytes | None:
    """The last complete line of a file, read from its end (the file may be large)."""
    with open(path, "rb") as handle:
        end = handle.seek(0, os.SEEK_END)
        buffer = b""
        position = end
        while position > 0:
            step = min(TAIL_CHUNK, position)
            position -= step
            handle.seek(position)
            buffer = handle.read(step) + buffer
            body = buffer[:-1] if buffer.endswith(b"\n") else buffer
            cut = body.rfind(b"\n")
            if cut >= 0:
                return body[cut + 1 :]
        body = buffer[:-1] if buffer.endswith(b"\n") else buffer
        return body or None


def drop_torn_tail(path: Path) -> bytes | None:
    """Cut a last line that has no newline (a crash mid-write); return what was cut."""
    if not path.exists():
        return None
    with open(path, "r+b") as handle:
        end = handle.seek(0, os.SEEK_END)
        if end == 0:
            return None
        position = end
        torn = b""
        while position > 0:
            step = min(TAIL_CHUNK, position)
            position -= step
            handle.seek(position)
            chunk = handle.read(step)
            if position + step == end and chunk.endswith(b"\n"):
                return None
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                torn = chunk[cut + 1 :] + torn
                position += cut + 1
                break
            torn = chunk + torn
        handle.truncate(position)
        handle.flush()
        os.fsync(handle.fileno())
    return torn or None


class AppendOnlyFile:
    """Whole lines appended with os.write, optionally fsynced each; thread-safe.

    Several processes may append to one file: `exclusive()` holds an exclusive
    `flock` on it (the kernel releases it if the holder dies, even by SIGKILL).
    Opening drops a torn last line (a writer died mid-line; it was never
    acknowledged) under that lock, and fsyncs the directory when the file is
    new, so its name survives a crash too.
    """

    def __init__(self, path: Path, header: bytes = b"") -> None:
        self.path = path
        self._lock = threading.RLock()
        path.parent.mkdir(parents=True, exist_ok=True)
        created = not path.exists()
        # Never through a symlink, never onto anything but a regular file: a link
        # planted in the state directory must not make us cut or extend another file.
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            if path.is_symlink():
                raise OSError(
                    exc.errno, f"{path} is a symbolic link; refusing to write to it"
                ) from None
            raise
        if not stat.S_ISREG(os.fstat(self._fd).st_mode):
            os.close(self._fd)
            raise OSError(f"{path} is not a regular file; refusing to write to it")
        if created:
            fsync_dir(path.parent)
        with self.exclusive():
            self.torn = drop_torn_tail(path)
            if header and os.fstat(self._fd).st_size == 0:
                self.append(header, sync=True)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """This thread, and no other thread or process, appends until the block ends."""
        with self._lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def append(self, line: bytes, *, sync: bool) -> None:
        """Write every byte of `line`; with `sync`, fsync before returning."""
        with self._lock:
            view = memoryview(line)
            while view:
                view = view[os.write(self._fd, view) :]
            if sync:
                os.fsync(self._fd)

    def size(self) -> int:
        with self._lock:
            os.fsync(self._fd)
            return os.fstat(self._fd).st_size

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = -1
