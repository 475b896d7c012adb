"""Atomic file writes: a file is either complete under its name or absent.

Writers put their bytes into a temporary file in the destination's folder
(same file system, so the final rename is atomic), flush them to disk
(``fsync``), then rename the temporary file over the destination and sync
the folder so the rename itself survives a crash. A writer that fails or
is interrupted leaves no file under the destination's name (an earlier
version there stays untouched) and removes its temporary file.
"""
import contextlib
import os
import os.path as osp
import tempfile
from typing import Iterator


def fsync_path(path: str) -> None:
    """Flush a file's (or a folder's) data and metadata to disk.

    Args:
        path (str): File or folder.
    """
    flags = os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0) \
        if osp.isdir(path) else os.O_RDONLY
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit_file(tmp_path: str, dst: str) -> None:
    """Sync ``tmp_path``, rename it to ``dst`` and sync ``dst``'s folder.

    Args:
        tmp_path (str): A finished temporary file in ``dst``'s folder.
        dst (str): Final name.
    """
    fsync_path(tmp_path)
    os.replace(tmp_path, dst)
    fsync_path(osp.dirname(osp.abspath(dst)))


def temporary_name(dst: str) -> str:
    """A fresh hidden name next to ``dst``: ``.{name}.{random}.tmp``.

    The file is created empty (so the name is reserved) and must be filled
    by the caller.

    Args:
        dst (str): The destination path.

    Returns:
        str: Path of the reserved temporary file, in ``dst``'s folder.
    """
    folder, name = osp.split(osp.abspath(dst))
    fd, tmp = tempfile.mkstemp(prefix=f'.{name}.', suffix='.tmp', dir=folder)
    os.close(fd)
    return tmp


@contextlib.contextmanager
def atomic_path(dst: str) -> Iterator[str]:
    """Yield a temporary path to write; on success it becomes ``dst``.

    Example::

        with atomic_path('out/iter_100.pth') as tmp:
            torch.save(state, tmp)

    Args:
        dst (str): The destination path; its folder must exist.

    Yields:
        str: The temporary path (in ``dst``'s folder) to write to.
    """
    tmp = temporary_name(dst)
    try:
        yield tmp
        commit_file(tmp, dst)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
