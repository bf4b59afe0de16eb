"""Writing a file whole or not at all: through a temporary file in the same folder, renamed over
the target only when complete, so an error (a full disk, an exception while writing) never
leaves a half-written file, and an existing file stays as it was. A symbolic link is followed
(the file it points to is replaced, the link stays); a target that is no regular file (a pipe,
/dev/stdout) is written in place, as open() would."""
from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import BinaryIO, Callable


def _check_creatable(raw: str, what: str) -> None:
    """Refuse a new file's path as open() would: its folder must exist (``nope/../f``), its name
    be a file's (not ``.`` or ``..``), and so for the path a link to no file yet points to."""
    path = raw
    for _ in range(40):  # (the kernel's own limit on links followed)
        name = os.path.basename(path)
        if name in (".", "..") or path.endswith(os.sep):
            raise IsADirectoryError(f"{what}: cannot write {raw!r}: it names a folder")
        folder = os.path.dirname(path) or "."
        try:
            is_folder = stat.S_ISDIR(os.stat(folder).st_mode)
        except FileNotFoundError:
            raise FileNotFoundError(f"{what}: cannot write {raw!r}: folder {folder!r} does not "
                                    "exist") from None
        if not is_folder:
            raise NotADirectoryError(f"{what}: cannot write {raw!r}: {folder!r} is not a folder")
        if not os.path.islink(path):
            return
        path = os.path.join(folder, os.readlink(path))  # (relative to the link's folder)


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], None],
                     what: str) -> Path:
    """Call ``write(handle)`` on a new file and put it at ``path``; ``what`` names the caller in
    errors. The file gets the permissions ``open()`` would give it: an existing file's, or
    0o666 less the umask for a new one (a temporary file of ``tempfile`` would be 0o600)."""
    raw = os.fspath(path)
    if not raw:
        raise ValueError(f"{what}: the path is empty")
    if raw.endswith(os.sep) or os.altsep and raw.endswith(os.altsep):
        raise IsADirectoryError(f"{what}: cannot write {raw!r}: it names a folder")
    try:
        found = os.stat(raw)  # through links (a loop of links raises, as open() would)
    except FileNotFoundError:  # no file yet, or a link to none
        found = None
        _check_creatable(raw, what)
    if found is not None and stat.S_ISDIR(found.st_mode):
        raise IsADirectoryError(f"{what}: cannot write {raw!r}: it is a folder")
    if found is not None and not stat.S_ISREG(found.st_mode):  # a pipe, /dev/stdout: in place
        with open(raw, "wb") as out:
            write(out)
        return Path(raw)
    target = Path(os.path.realpath(raw))  # a link's file is replaced, the link stays
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"{what}: cannot write {raw!r}: folder {str(folder)!r} does not "
                                "exist")
    try:
        existing = stat.S_IMODE(target.stat().st_mode)
    except OSError:
        existing = None
    while True:
        # (the name cut short: the temporary's must stay within the 255 bytes a name may take)
        short = os.fsdecode(os.fsencode(target.name)[:64])  # (bytes: names may be UTF-8)
        temporary = folder / f".{short}.{secrets.token_hex(4)}.tmp"
        try:  # mode 0o666: the kernel takes the umask off, as for open()
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
        except OSError as exc:  # a folder it may not write (permissions, a read-only disk):
            # named by the path given, not by the temporary file the user never asked for
            raise type(exc)(exc.errno, f"{what}: cannot write {raw!r}: {exc.strerror}") from None
    try:
        if existing is not None:
            os.fchmod(handle, existing)
        with os.fdopen(handle, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return Path(raw)
