"""The request journal: how the API middleware makes a request record durable without SQLite.

Why it exists: a spool append is a SQLite write transaction under a lock that every worker and
the shipper share, and even a ``write(2)`` per request cost more than the rest of the audit
work (bench/audit.py: about 10 µs of a 60 µs request in the serving process). So each process
appends its records to its own memory-mapped file: a record is a copy into the page cache, no
system call, and once copied it survives ``kill -9`` of the service (the ``interval`` policy;
``msync`` on the timer). The ``batch`` policy copies a group of records and acknowledges them
after one ``msync(MS_SYNC)`` off the event loop. The shipper moves complete frames into the
spool (:meth:`audit.recording.spool.Spool.absorb_journal`), storing how far it read in the same
transaction, so every frame enters the spool exactly once.

A journal file is ``<spool>.requests/<pid>-<time>-<random>.jnl``, allocated in full when created
(``posix_fallocate``: a full disk fails the creation, never a copy into the mapping). Its writer
holds an exclusive ``flock`` on it while writing there; the file is created under a temporary
name, locked, then renamed, so a reader that can take the lock knows no frame will follow. A
file starts with a 16-byte header whose second half says how far it is written (updated on each
sync and every 0.1 s: used for the spool's fill, never to find frames), then frames:
``MAGIC | length | CRC-32 | stream NUL payload``; unwritten space reads as zeros. A writer moves
to a new file when the current one is full and in a forked child; at a clean close the file is
cut to its written length.

Reading (the shipper) parses frames up to the first bytes that are not one. If a verified frame
follows, the bytes between are damaged (kept in the dead-letter table); otherwise they are where
the writer is now, or, once its lock is free, the end: zeros, or a frame whose copy was cut short
by ``kill -9`` (never acknowledged: the request had not been answered). Anything else at the end
of a finished file is damaged too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import mmap
import os
import secrets
import struct
import sys
import threading
import time
import weakref
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final, Literal, TypeVar

from audit.errors import AuditSpoolError
from audit.native import native as _native

MAGIC: Final = b"\xa7AJ1"
_HEAD: Final = struct.Struct("<4sII")  # magic, body length, CRC-32 of the body
FILE_MAGIC: Final = b"AJF1"
_FILE_HEAD: Final = struct.Struct("<4s4xQ")  # file magic, how far the file is written
HEADER_BYTES: Final = _FILE_HEAD.size
#: No frame is larger (a compact request record is bounded far below this).
MAX_BODY: Final = 1 << 20
SUFFIX: Final = ".jnl"
_ZEROS: Final = bytes(4)
_READ_STEP: Final = 256 << 10
_PAGE: Final = mmap.PAGESIZE
#: How far past the write position :meth:`JournalWriter.map_ahead` keeps pages mapped for writing.
_AHEAD: Final = 4 << 20
#: ``MADV_POPULATE_WRITE`` (Linux 5.14; Python 3.11's ``mmap`` has no name for it). Elsewhere, or
#: on an older kernel (``EINVAL``), the writer takes its page faults as before.
_POPULATE_WRITE: Final = getattr(mmap, "MADV_POPULATE_WRITE", 23 if sys.platform == "linux" else 0)
_T = TypeVar("_T")

#: Every writer of this process, so that a forked child can let go of its parent's files.
_writers: weakref.WeakSet[JournalWriter] = weakref.WeakSet()


def _forked() -> None:
    for writer in list(_writers):
        writer._leave_to_parent()  # the fork hook is part of the writer


os.register_at_fork(after_in_child=_forked)


def frame(stream_tag: bytes, payload: bytes) -> bytes:
    """One record as a journal frame; ``stream_tag`` is ``stream.encode() + b"\\0"``."""
    return _frame_after_tag(stream_tag, zlib.crc32(stream_tag), payload)


def _frame_after_tag(stream_tag: bytes, tag_crc: int, payload: bytes) -> bytes:
    """:func:`frame`, given the tag's CRC (what ``audit/_capture.c``'s ``frame`` does in C)."""
    body_length = len(stream_tag) + len(payload)
    return _HEAD.pack(MAGIC, body_length, zlib.crc32(payload, tag_crc)) + stream_tag + payload


def directory_of(spool_path: Path) -> Path:
    """The journal directory beside a spool file."""
    return spool_path.with_name(spool_path.name + ".requests")


@dataclasses.dataclass(slots=True)
class _Mapped:
    fd: int
    view: mmap.mmap
    written: int
    #: Where the pages :meth:`JournalWriter.map_ahead` made writable end.
    mapped_ahead: int = 0


def _page_up(offset: int) -> int:
    return -(-offset // _PAGE) * _PAGE


def _flush_written(view: mmap.mmap, written: int) -> None:
    """``msync`` the pages holding the first ``written`` bytes (not those mapped ahead)."""
    view.flush(0, min(len(view), _page_up(written)))


class JournalWriter:
    """The journal of one process. ``write`` is called from one thread (the event loop);
    ``sync`` and ``publish`` from another (they never close the file being written)."""

    def __init__(self, directory: Path, *, file_bytes: int = 32 << 20) -> None:
        self.directory = directory
        self._file_bytes = max(file_bytes, HEADER_BYTES + _HEAD.size + MAX_BODY)
        self._current: _Mapped | None = None
        #: The current file's mapping, its position where the next frame goes; ``None`` until
        #: the first write (and in a forked child until its first write).
        self._view: mmap.mmap | None = None
        self._directory_synced = True
        self._retired: list[_Mapped] = []
        self._retired_lock = threading.Lock()
        #: Frame bytes of the files this writer has moved on from (see :meth:`written_bytes`).
        self._finished_bytes = 0
        self._may_map_ahead = bool(_POPULATE_WRITE)
        _writers.add(self)

    def write(self, data: bytes) -> None:
        """Append whole frames (a copy into the page cache); ``sync`` makes them reach the disk.

        One call into ``mmap.write``, which copies at the mapping's position or, if the frames
        do not fit, raises without copying anything. Raises :class:`AuditSpoolError` if no
        journal file can be had; nothing was written.
        """
        try:
            self._view.write(data)  # type: ignore[union-attr]
        except (AttributeError, ValueError):  # no file yet, or this one is full
            self._open_next().write(data)

    def appender(
        self, stream: str, *, on_error: Callable[[bytes], _T]
    ) -> Callable[[bytes], _T | None]:
        """``write(frame(stream tag, payload))`` for one stream in one call, the tag and its CRC
        computed once (the request path appends a record per request). Returns ``None``, or
        what ``on_error(payload)`` returns when no journal file can be had."""
        tag = stream.encode() + b"\0"
        tag_crc = zlib.crc32(tag)
        framed = _native.frame if _native else _frame_after_tag

        def append(payload: bytes) -> _T | None:
            data = framed(tag, tag_crc, payload)
            try:
                self._view.write(data)  # type: ignore[union-attr]
            except (AttributeError, ValueError):  # as in write()
                try:
                    self._open_next().write(data)
                except AuditSpoolError:
                    return on_error(payload)
            return None

        return append

    def publish(self) -> None:
        """Write into the file's header how far it is written (for the spool's fill)."""
        current = self._current
        if current is not None:
            with contextlib.suppress(ValueError):  # closed meanwhile (shutdown)
                _FILE_HEAD.pack_into(current.view, 0, FILE_MAGIC, current.view.tell())

    def written_bytes(self) -> int:
        """How many bytes this writer has written so far, without a system call: the recorder
        looks at it every 0.1 s to tell whether its fill check is due."""
        current = self._current
        if current is None:
            return self._finished_bytes
        try:
            return self._finished_bytes + current.view.tell() - HEADER_BYTES
        except ValueError:  # closed meanwhile (shutdown)
            return self._finished_bytes

    def map_ahead(self) -> None:
        """Fault in, for writing, the current file's next pages (``MADV_POPULATE_WRITE``), from
        the maintainer thread every 0.1 s.

        Why: the request path's copy into a page it is the first to write traps into the kernel
        (a write fault, the file system's ``page_mkwrite``): one fault every ~125 records, about
        0.2 µs of system time a record on this VM. Populating a few MiB at once costs a fraction
        of that per page, off the serving thread. :meth:`sync` flushes only the written part, so
        the pages made writable ahead stay so.
        """
        current = self._current
        if current is None or not self._may_map_ahead:
            return
        try:
            position = current.view.tell()
            start = max(current.mapped_ahead, position - position % _PAGE)
            end = min(len(current.view), _page_up(position + _AHEAD))
            if end - start >= _AHEAD // 4:  # in steps of a MiB, not a few pages every tick
                current.view.madvise(_POPULATE_WRITE, start, end - start)
                current.mapped_ahead = end
        except ValueError:  # retired and closed meanwhile
            pass
        except OSError as exc:
            if exc.errno == errno.EINVAL:  # a kernel without this advice: faults as before
                self._may_map_ahead = False

    def sync(self) -> None:
        """Make what is written durable on disk (``msync`` of the written pages); close the
        files left behind."""
        current = self._current
        try:
            if current is not None:
                written = current.view.tell()
                _FILE_HEAD.pack_into(current.view, 0, FILE_MAGIC, written)
                _flush_written(current.view, written)
            if not self._directory_synced:
                self._directory_synced = True
                _sync_directory(self.directory)
        except (OSError, ValueError) as exc:
            raise AuditSpoolError("The audit request journal cannot be synced.") from exc
        self.close_retired()

    def close_retired(self) -> None:
        with self._retired_lock:
            retired, self._retired = self._retired, []
        for mapped in retired:
            with contextlib.suppress(OSError, ValueError):
                _FILE_HEAD.pack_into(mapped.view, 0, FILE_MAGIC, mapped.written)
                _flush_written(mapped.view, mapped.written)
                mapped.view.close()
                os.ftruncate(mapped.fd, mapped.written)  # give back the unwritten space
                os.fdatasync(mapped.fd)
            with contextlib.suppress(OSError):
                os.close(mapped.fd)  # releases the flock: the shipper may now finish the file

    def close(self) -> None:
        self._retire()
        self.close_retired()

    def _retire(self) -> None:
        current, self._current, self._view = self._current, None, None
        if current is not None:
            current.written = current.view.tell()
            self._finished_bytes += current.written - HEADER_BYTES
            with self._retired_lock:
                self._retired.append(current)

    def _leave_to_parent(self) -> None:
        """In a forked child: the files open at the fork are the parent's to write, sync and
        close. The child drops its copies (its descriptors too, or the parent's lock would
        outlive the parent) and starts a file of its own at its first write."""
        inherited = [self._current, *self._retired]
        self._current, self._view, self._retired = None, None, []
        self._retired_lock = threading.Lock()  # another thread may have held it at the fork
        for mapped in inherited:
            if mapped is not None:
                with contextlib.suppress(OSError, ValueError):
                    mapped.view.close()  # the child's mapping only
                with contextlib.suppress(OSError):
                    os.close(mapped.fd)

    def _open_next(self) -> mmap.mmap:
        self._retire()
        fd = -1
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            name = f"{os.getpid()}-{time.time_ns()}-{secrets.token_hex(4)}"
            temporary = self.directory / f"{name}.tmp"
            fd = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.posix_fallocate(fd, 0, self._file_bytes)
            view = mmap.mmap(fd, self._file_bytes)
            _FILE_HEAD.pack_into(view, 0, FILE_MAGIC, HEADER_BYTES)
            view.seek(HEADER_BYTES)
            temporary.rename(self.directory / f"{name}{SUFFIX}")
        except OSError as exc:
            if fd >= 0:
                os.close(fd)
                with contextlib.suppress(OSError):
                    temporary.unlink()
            raise AuditSpoolError("The audit request journal cannot be created.") from exc
        self._current = _Mapped(fd, view, HEADER_BYTES)
        self._view = view
        self._directory_synced = False
        return view


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- reading (the shipper) ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Chunk:
    """What one read of a journal file found, from ``start`` to ``end``."""

    start: int
    end: int
    records: list[tuple[str, bytes]]
    #: ``(offset, bytes)`` spans that are not frames, for the dead-letter table.
    damaged: list[tuple[int, bytes]]
    #: Nothing more can be read now: the read stopped where the writer is (or was).
    exhausted: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Parsed:
    records: list[tuple[str, bytes]]
    used: int
    damaged: list[tuple[int, bytes]]
    #: ``end``: all of the data was used; ``partial``: it ends inside a frame (perhaps only
    #: because of the read's size); ``frontier``: what follows is not written (yet).
    stop: Literal["end", "partial", "frontier"]


class JournalFile:
    """A journal file opened for reading; ``writer_gone`` is decided before anything is read."""

    def __init__(self, path: Path, fd: int, writer_gone: bool) -> None:
        self.path = path
        self.name = path.name
        self._fd = fd
        self.writer_gone = writer_gone

    def read(self, offset: int, max_bytes: int) -> Chunk:
        """Frames from ``offset``, about ``max_bytes`` of them, read in steps so that a file
        still being written costs a read of its new frames, not of its unwritten space."""
        start = position = max(offset, HEADER_BYTES)
        records: list[tuple[str, bytes]] = []
        damaged: list[tuple[int, bytes]] = []
        step = _READ_STEP
        while position - start < max_bytes:
            want = min(step, start + max_bytes - position)
            data = os.pread(self._fd, want, position)
            parsed = parse(data, position, final=self.writer_gone)
            records += parsed.records
            damaged += parsed.damaged
            position += parsed.used
            if parsed.stop == "frontier" or len(data) < want:
                return Chunk(start, position, records, damaged, exhausted=True)
            if parsed.used == 0:  # "partial": a frame longer than this read
                if want < step or step > _READ_STEP:
                    break  # cut by max_bytes: the next call goes on from here
                step = _HEAD.size + MAX_BODY
            else:
                step = _READ_STEP
        return Chunk(start, position, records, damaged, exhausted=False)

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def written(path: Path) -> int:
    """How far a journal file is written, per its header (0 if it cannot be read)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return 0
    try:
        return _written_end(fd)
    finally:
        os.close(fd)


def _written_end(fd: int) -> int:
    try:
        head = os.pread(fd, HEADER_BYTES, 0)
    except OSError:
        return 0
    if len(head) < HEADER_BYTES:
        return 0
    magic, end = _FILE_HEAD.unpack(head)
    return int(end) if magic == FILE_MAGIC else 0


def files(directory: Path) -> list[Path]:
    """The journal files, oldest first (names are ``pid-time-random``)."""
    try:
        paths = [p for p in directory.iterdir() if p.name.endswith(SUFFIX)]
    except (FileNotFoundError, NotADirectoryError):  # nothing journaled (yet, or ever)
        return []
    return sorted(paths, key=lambda p: [*p.name.split("-")[1:2], p.name])


def writer_pids(directory: Path) -> set[int]:
    """The processes that wrote the journal files there (a file's name starts with its pid)."""
    pids = set()
    for path in files(directory):
        head = path.name.split("-", 1)[0]
        if head.isdigit():
            pids.add(int(head))
    return pids


@contextlib.contextmanager
def opened(path: Path) -> Iterator[JournalFile | None]:
    """Open a journal file (None if it is gone); holds its lock if its writer is gone."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            writer_gone = True
        except BlockingIOError:
            writer_gone = False
        yield JournalFile(path, fd, writer_gone)
    finally:
        os.close(fd)


def parse(data: bytes, base: int = 0, *, final: bool = False) -> Parsed:
    """The complete frames at the start of ``data`` (which begins at file offset ``base``).

    ``final``: no writer will add to the file, so bytes that are not frames and that no
    verified frame follows are decided now: zeros and a torn last frame end the file, anything
    else is damaged. Without ``final`` they are left for a later read.
    """
    records: list[tuple[str, bytes]] = []
    damaged: list[tuple[int, bytes]] = []
    position = 0
    end = len(data)
    while position < end:
        body = _frame_at(data, position)
        if body is not None:
            stream, _, payload = body.partition(b"\0")
            records.append((stream.decode("utf-8", "replace"), payload))
            position += _HEAD.size + len(body)
            continue
        resume = _next_frame(data, position + 1)
        if resume is not None:
            damaged.append((base + position, data[position:resume]))
            position = resume
            continue
        if _incomplete_at(data, position):
            return Parsed(records, position, damaged, "partial")
        if final and not _unwritten_or_torn(data, position):
            damaged.append((base + position, data[position:]))
            position = end
        return Parsed(records, position, damaged, "frontier")
    return Parsed(records, position, damaged, "end")


def _frame_at(data: bytes, position: int) -> bytes | None:
    if len(data) - position < _HEAD.size:
        return None
    magic, length, crc = _HEAD.unpack_from(data, position)
    start = position + _HEAD.size
    if magic != MAGIC or not 0 < length <= MAX_BODY or start + length > len(data):
        return None  # (a body holds at least its stream's NUL: zeros never pass for a frame)
    body = data[start : start + length]
    return body if zlib.crc32(body) == crc else None


def _incomplete_at(data: bytes, position: int) -> bool:
    """A plausible frame start whose bytes run past the end of ``data``."""
    rest = len(data) - position
    if rest < _HEAD.size:
        return MAGIC.startswith(data[position : position + len(MAGIC)]) and rest > 0
    magic, length, _ = _HEAD.unpack_from(data, position)
    return bool(magic == MAGIC and length <= MAX_BODY and rest < _HEAD.size + length)


def _unwritten_or_torn(data: bytes, position: int) -> bool:
    """Zeros to the end, or one frame's extent followed by zeros (a copy cut short)."""
    if data.startswith(_ZEROS, position) or position >= len(data):
        return not data[position:].strip(b"\0")
    if len(data) - position < _HEAD.size:
        return False
    magic, length, _ = _HEAD.unpack_from(data, position)
    extent = position + _HEAD.size + length
    return bool(magic == MAGIC and length <= MAX_BODY and not data[extent:].strip(b"\0"))


def _next_frame(data: bytes, start: int) -> int | None:
    position = data.find(MAGIC, start)
    while position >= 0:
        if _frame_at(data, position) is not None:
            return position
        position = data.find(MAGIC, position + 1)
    return None
