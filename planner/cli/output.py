"""Atomic file output: a reader sees the old files or the complete new ones, never half of them.

`write_files` writes a set of files (a rule file and its Alertmanager snippet, a directory of
runbooks) so that a failure of any leaves none of them changed; `write_atomic` is the one-file
case. An error is an `OSError` whose `filename` is the file asked for (never our temporary one)
and whose `strerror` says what is wrong with it: the CLI prints it as one line.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

__all__ = ["write_atomic", "write_chunks", "write_files", "write_into_directory", "write_output"]

_PathT = TypeVar("_PathT", bound="str | os.PathLike[str]")

#: A staged file: (the target, its complete temporary file beside it).
_Staged = tuple[Path, str]


def _error(exc: OSError, target: Path, reason: str) -> OSError:
    """An OSError of `exc`'s kind that names `target` and says `reason`."""
    return type(exc)(exc.errno, f"cannot write the file: {reason}", str(target))


def _first_non_directory(directory: Path) -> Path | None:
    """The nearest ancestor-or-self of `directory` that exists but is not a directory."""
    for candidate in (directory, *directory.parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


def _create_reason(exc: OSError, directory: Path, what: str = "a file") -> str:
    """Why `what` could not be created in `directory`, told truthfully."""
    blocker = _first_non_directory(directory)
    if blocker is not None:
        return f"{blocker} is not a directory"
    if not directory.exists():
        return f"its directory {directory} does not exist"
    # The directory exists, yet refused (read-only, permissions, /proc): the OS's own words.
    return f"cannot create {what} in {directory} ({exc.strerror or type(exc).__name__})"


@contextlib.contextmanager
def _naming(target: Path, reason: Callable[[OSError], str] | None = None) -> Iterator[None]:
    """An OSError inside becomes one naming `target` (never our temporary file) with `reason`."""
    try:
        yield
    except OSError as exc:
        why = reason(exc) if reason is not None else exc.strerror or type(exc).__name__
        raise _error(exc, target, why) from None


def _stage(target: Path, text: str | Iterable[str]) -> str:
    """Write `text` (or its chunks, as they come) to a complete temporary file beside `target`;
    returns its name."""
    if target.is_dir():
        raise IsADirectoryError(
            errno.EISDIR, "cannot write the file: it is a directory", str(target)
        )
    directory = target.parent
    # mkstemp in the target's own directory: os.replace is only atomic within one filesystem.
    with _naming(target, lambda exc: _create_reason(exc, directory)):
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with _naming(target), os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            if isinstance(text, str):
                handle.write(text)
            else:
                handle.writelines(text)  # buffered: chunks reach the file as they are made
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600; give the file the mode an ordinary open() would (umask applies).
        umask = os.umask(0)
        os.umask(umask)
        with _naming(target):
            os.chmod(tmp_name, 0o666 & ~umask)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    return tmp_name


def _backup(target: Path) -> str | None:
    """A copy of an existing `target` to restore if a later file of the set fails; else None."""
    if not target.exists():
        return None
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
    os.close(fd)
    try:
        shutil.copy2(target, name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return name


def _commit(staged: list[_Staged]) -> None:
    """Move every staged file into place; if one fails, put back what the others replaced."""
    replaced: list[tuple[Path, str | None]] = []  # targets already replaced, with their backups
    try:
        for target, tmp_name in staged:
            # A lone file needs no backup: os.replace either happens or leaves the old file.
            with _naming(target):
                backup = _backup(target) if len(staged) > 1 else None
            try:
                with _naming(target):
                    os.replace(tmp_name, target)
            except BaseException:
                if backup is not None:
                    with contextlib.suppress(OSError):
                        os.unlink(backup)
                raise
            replaced.append((target, backup))
    except BaseException:
        for target, backup in reversed(replaced):
            with contextlib.suppress(OSError):
                if backup is None:
                    os.unlink(target)
                else:
                    os.replace(backup, target)
        for _, tmp_name in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)  # the ones not moved into place yet
        raise
    for _, backup in replaced:
        if backup is not None:
            with contextlib.suppress(OSError):
                os.unlink(backup)


def write_files(files: Mapping[_PathT, str]) -> list[Path]:
    """Write each text (UTF-8) to its path: all of them, or on any error none of them.

    Every file is first written completely to a temporary file beside its target; only then are
    they moved into place with `os.replace`. If one fails, the targets already replaced get their
    old content back (or are removed when they did not exist) and every temporary file is
    removed. Parent directories must exist. Returns the paths written, in order.
    """
    staged: list[_Staged] = []
    try:
        for path, text in files.items():
            target = Path(path)
            staged.append((target, _stage(target, text)))
    except BaseException:
        for _, tmp_name in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
        raise
    _commit(staged)
    return [target for target, _ in staged]


def write_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write `text` (UTF-8) to `path` through a temporary file in the same directory + `os.replace`.

    On any error the temporary file is removed and an existing file at `path` is left untouched.
    The parent directory must exist (a missing one raises `FileNotFoundError`, an `OSError`).
    Returns the path written.
    """
    (written,) = write_files({path: text})
    return written


def write_into_directory(directory: str | os.PathLike[str], files: Mapping[str, str]) -> list[Path]:
    """Write `files` (name → text) into `directory`, created if missing: all of them or none.

    On an error, the directories this call created are removed again, so a failure leaves neither
    a partial set of files nor an empty new directory. Returns the paths written, in order.
    """
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(
            errno.ENOTDIR, "cannot write into it: it is not a directory", str(root)
        )
    created = [d for d in (root, *root.parents) if not d.exists()]
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise type(exc)(
            exc.errno,
            f"cannot create the directory: {_create_reason(exc, root.parent, 'a directory')}",
            str(root),
        ) from None
    try:
        return write_files({root / name: text for name, text in files.items()})
    except BaseException:
        for made in created:  # deepest first
            with contextlib.suppress(OSError):
                made.rmdir()
        raise


def write_output(text: str, path: str | os.PathLike[str] | None) -> None:
    """Print `text` to stdout, or write it atomically to `path` when one is given (`-o FILE`).

    A missing final newline is added so that the shell prompt starts on its own line.
    """
    if not text.endswith("\n"):
        text += "\n"
    if path is None or str(path) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_atomic(path, text)


def write_chunks(chunks: Iterable[str], path: str | os.PathLike[str] | None) -> None:
    """`write_output` for text made piece by piece: each chunk goes to stdout, or to the
    temporary file beside `path`, as it comes; the file replaces `path` only once complete.

    A missing final newline is added, as `write_output` does.
    """

    def ended() -> Iterator[str]:
        last = ""
        for chunk in chunks:
            if chunk:
                last = chunk
                yield chunk
        if not last.endswith("\n"):
            yield "\n"

    if path is None or str(path) == "-":
        sys.stdout.writelines(ended())
        sys.stdout.flush()
        return
    target = Path(path)
    _commit([(target, _stage(target, ended()))])
