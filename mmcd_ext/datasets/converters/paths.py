"""Input and output folders of a converter, and how the output is built.

A converter never writes into its final output folder. It fills a hidden
sibling, ``.{name}.partial``, and renames it to the final name only when
every file of the run is written (all output folders of one run together,
:func:`staged_folders`): the output folder is therefore either complete or
absent, and a dataset never loads half a conversion. A run that stops
half-way (an error, Ctrl-C, a kill) leaves at most the hidden ``.partial``
folder, which the next run deletes before starting again; an error or
Ctrl-C removes it at once. An existing output is refused unless ``force``;
then the new output replaces it as a whole once complete (the old one stays
untouched until that moment), and only if it holds nothing but files the
converter writes, so no file of the user's is deleted. The hidden names
``.{name}.partial`` and ``.{name}.old`` next to an output belong to the
converter. Two conversions must not write into the same output at the same
time.
"""
import contextlib
import os
import os.path as osp
import shutil
from typing import Iterator, List, Optional, Sequence

from mmcd_ext.utils.atomic import fsync_path


def _inside(path: str, folder: str) -> bool:
    """Whether resolved ``path`` is ``folder`` or below it."""
    return osp.commonpath([path, folder]) == folder


def check_src_dst(src: str, dst: str) -> None:
    """Refuse output folders that overlap the input folder.

    Args:
        src (str): Input folder.
        dst (str): Output folder.

    Raises:
        ValueError: If both name the same folder, ``dst`` is inside ``src``
            (a rerun would read its own output) or ``src`` is inside ``dst``
            (replacing the output would delete the input).
    """
    real_src, real_dst = osp.realpath(src), osp.realpath(dst)
    if real_src == real_dst:
        raise ValueError(f'SRC and DST must be different folders, both are '
                         f'{real_src}')
    if _inside(real_dst, real_src):
        raise ValueError(f'DST {dst} is inside SRC {src}; choose an output '
                         'folder outside the input')
    if _inside(real_src, real_dst):
        raise ValueError(f'SRC {src} is inside DST {dst}; choose an output '
                         'folder that does not contain the input')


def side_folder(dst: str, tag: str) -> str:
    """The hidden sibling ``.{name}.{tag}`` of ``dst``.

    Args:
        dst (str): Output folder.
        tag (str): ``'partial'`` (being written) or ``'old'`` (being
            replaced).

    Returns:
        str: Path in ``dst``'s parent folder.
    """
    parent, name = osp.split(osp.abspath(dst))
    return osp.join(parent, f'.{name}.{tag}')


def list_files(folder: str) -> List[str]:
    """Every file (and symbolic link) below ``folder``, relative, sorted.

    Args:
        folder (str): Folder to walk (links to folders are not followed).

    Returns:
        list[str]: Paths relative to ``folder``.
    """
    found = []
    for root, dirs, files in os.walk(folder):
        links = [d for d in dirs if osp.islink(osp.join(root, d))]
        for name in files + links:
            found.append(osp.relpath(osp.join(root, name), folder))
    return sorted(found)


def check_output(dst: str,
                 suffix: str,
                 force: bool,
                 folders: Optional[Sequence[str]] = None) -> None:
    """Refuse an existing output unless ``force`` and it is ours to replace.

    An absent ``dst`` or one holding no file (only empty folders) is fine.

    Args:
        dst (str): Output folder.
        suffix (str): Suffix of the files the converter writes.
        force (bool): Whether an existing output may be replaced.
        folders (Sequence[str], optional): The only sub-folders of ``dst``
            the converter writes; None allows any. Defaults to None.

    Raises:
        FileExistsError: If ``dst`` is a file, holds files and not
            ``force``, or holds files the converter does not write.
    """
    if not osp.lexists(dst):
        return
    if osp.islink(dst) or not osp.isdir(dst):
        raise FileExistsError(f'output {dst} exists and is not a folder; '
                              'choose another DST')
    files = list_files(dst)
    if not files:
        return
    if not force:
        raise FileExistsError(
            f'output folder {dst} is not empty ({len(files)} files); pass '
            '--force to replace it with the new conversion')
    foreign = [
        f for f in files if not f.endswith(suffix) or (
            folders is not None and f.split(os.sep)[0] not in folders)
    ]
    if foreign:
        where = f' outside {"/, ".join(folders)}/' if folders else ''
        more = ', ...' if len(foreign) > 3 else ''
        raise FileExistsError(
            f'--force replaces {dst} as a whole, but it holds {len(foreign)} '
            f'file(s) this converter does not write (not "*{suffix}"{where})'
            f': {", ".join(foreign[:3])}{more}; move them away first')


def remove_stale(dst: str) -> None:
    """Delete the ``.partial`` / ``.old`` siblings an earlier run left.

    Args:
        dst (str): Output folder.
    """
    for tag in ('partial', 'old'):
        stale = side_folder(dst, tag)
        if osp.lexists(stale):
            print(f'removing {stale}, left by an interrupted run', flush=True)
            if osp.isdir(stale) and not osp.islink(stale):
                shutil.rmtree(stale)
            else:
                os.remove(stale)


def commit_folder(work: str, dst: str) -> None:
    """Rename a finished ``work`` folder to ``dst``, replacing an old one.

    An existing ``dst`` is first moved aside to ``.{name}.old``, then
    deleted once ``work`` has its name.

    Args:
        work (str): The filled ``.partial`` folder.
        dst (str): Output folder.
    """
    old = side_folder(dst, 'old')
    replaced = osp.lexists(dst)
    if replaced:
        os.rename(dst, old)
    os.rename(work, dst)
    fsync_path(osp.dirname(osp.abspath(dst)))
    if replaced:
        shutil.rmtree(old)
        print(f'replaced the previous {dst}', flush=True)


@contextlib.contextmanager
def staged_folders(dsts: Sequence[str]) -> Iterator[List[str]]:
    """Yield hidden folders to fill; on success they become ``dsts``.

    Call :func:`check_output` on each first. Stale ``.partial`` / ``.old``
    folders are deleted before starting; on an error (or Ctrl-C) the new
    ``.partial`` folders are deleted too. Only when the block has finished
    every folder is each renamed to its destination
    (:func:`commit_folder`), so a run that stops anywhere before leaves no
    output a rerun would refuse.

    Args:
        dsts (Sequence[str]): Output folders; their parents are created if
            needed.

    Yields:
        list[str]: The ``.{name}.partial`` folder of each output.
    """
    works: List[str] = []
    try:
        for dst in dsts:
            os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
            remove_stale(dst)
            works.append(side_folder(dst, 'partial'))
            os.makedirs(works[-1])
        yield works
    except BaseException:
        for work in works:
            shutil.rmtree(work, ignore_errors=True)
        raise
    for work, dst in zip(works, dsts):
        commit_folder(work, dst)


@contextlib.contextmanager
def staged_folder(dst: str) -> Iterator[str]:
    """:func:`staged_folders` for one output folder.

    Args:
        dst (str): Output folder.

    Yields:
        str: The ``.{name}.partial`` folder to write into.
    """
    with staged_folders([dst]) as works:
        yield works[0]
