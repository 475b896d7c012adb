"""Pairing of the files of a bitemporal sample across folders.

A change-detection sample is spread over several folders (date A, date B,
one or two labels) whose files share a name up to a suffix.
:func:`pair_folders` is the one place that lists such folders and matches
their files. It returns the matched samples together with what is left over
(files without a partner in every other folder, files that are not used),
and each caller decides what a leftover means: the folder datasets
(:mod:`.base_folder_cd`) and the LEVIR-CD converter refuse it, naming the
file, while ``tools/infer.py`` processes the pairs and lists the rest.
:func:`pair_from_list` builds the samples from a text file of names instead.
"""
import os
import os.path as osp
import stat
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import mmengine
import mmengine.fileio as fileio

#: How each data_info key is called in messages; other keys are used as is.
ROLE_NAMES: Dict[str, str] = {
    'img_path': 'date-A image',
    'img_path2': 'date-B image',
    'seg_map_path': 'change label',
    'seg_map_path_a': 'date-A semantic label',
    'seg_map_path_b': 'date-B semantic label',
}

#: How many offending files a message lists.
MAX_LISTED = 5


def role_name(key: str) -> str:
    """Name of a data_info key in messages (``'img_path'`` -> date-A image).

    Args:
        key (str): data_info key (or any other role name).

    Returns:
        str: The entry of :data:`ROLE_NAMES`, else ``key`` itself.
    """
    return ROLE_NAMES.get(key, key)


def short_listing(items: Sequence[str]) -> str:
    """Join the first :data:`MAX_LISTED` items for a one-line message.

    Args:
        items (Sequence[str]): Items to list, in order.

    Returns:
        str: ``'a; b; c'``, ending with ``'; ... and N more'`` when longer.
    """
    shown = '; '.join(items[:MAX_LISTED])
    if len(items) > MAX_LISTED:
        shown += f'; ... and {len(items) - MAX_LISTED} more'
    return shown


def not_regular_note(path: str) -> str:
    """Why an expected local file was not found although its path exists.

    Listing and ``isfile`` skip folders, FIFOs and devices, so such an
    entry looks missing; the note tells the user what is really there.

    Args:
        path (str): The expected file.

    Returns:
        str: ``' (it exists but is a folder)'`` (or a FIFO, or not a regular
        file) for a local path that exists and is not a regular file, else
        an empty string.
    """
    if '://' in path:
        return ''
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return ''
    if stat.S_ISREG(mode):
        return ''
    kind = 'a folder' if stat.S_ISDIR(mode) else \
        'a FIFO' if stat.S_ISFIFO(mode) else 'not a regular file'
    return f' (it exists but is {kind})'


@dataclass
class FolderPairs:
    """Result of :func:`pair_folders`.

    A file's *name* is its path relative to its folder without the folder's
    suffix, so ``A/x/0001_t1.png`` (suffix ``_t1.png``) and
    ``B/x/0001_t2.png`` (suffix ``_t2.png``) share the name ``x/0001``.

    Args:
        sources (dict): The ``role -> (folder, suffix)`` that was paired.
        pairs (dict): Name -> ``{role: path}`` for every name found in all
            folders, in name order.
        unpaired (dict): Role -> ``{name: path}`` of the files of that folder
            whose name is missing from at least one other folder, in name
            order. An unpaired name is missing from exactly the roles whose
            dict lacks it (:meth:`missing_roles`).
        unused (dict): Role -> sorted paths of the files of that folder that
            were not paired: not ending with the suffix, or not with one of
            the accepted extensions.
    """
    sources: Dict[str, Tuple[str, str]]
    pairs: Dict[str, Dict[str, str]] = field(default_factory=dict)
    unpaired: Dict[str, Dict[str, str]] = field(default_factory=dict)
    unused: Dict[str, List[str]] = field(default_factory=dict)

    @property
    def num_unpaired(self) -> int:
        """Number of files, over all folders, without a complete sample."""
        return sum(len(files) for files in self.unpaired.values())

    def missing_roles(self, name: str) -> List[str]:
        """Roles whose folder has no file of an unpaired name.

        Args:
            name (str): A name of :attr:`unpaired`.

        Returns:
            list[str]: The roles lacking ``name``, in :attr:`sources` order.
        """
        return [
            role for role in self.sources if name not in self.unpaired[role]
        ]

    def expected_path(self, role: str, name: str) -> str:
        """Path the file of ``name`` would have in the folder of ``role``.

        Args:
            role (str): A role of :attr:`sources`.
            name (str): A file name without suffix.

        Returns:
            str: ``folder/name + suffix``.
        """
        folder, suffix = self.sources[role]
        return osp.join(folder, name + suffix)


def pair_folders(sources: Dict[str, Tuple[str, str]],
                 extensions: Optional[Sequence[str]] = None,
                 backend_args: Optional[dict] = None) -> FolderPairs:
    """Match the files of several folders by name.

    Every folder is listed recursively (hidden files are skipped). A file
    takes part when it ends with its folder's suffix (case-sensitive) and,
    if ``extensions`` is given, with one of them (case-insensitive); its
    name is its relative path without the suffix. With an empty suffix the
    whole relative path is the name, so ``A/0001.png`` pairs with
    ``B/0001.png`` but not with ``B/0001.jpg``. Nothing is raised for
    leftovers: they are returned for the caller to refuse or report.

    Args:
        sources (dict): Role (a data_info key) -> ``(folder, suffix)``, e.g.
            ``{'img_path': ('train/A', '.png'), 'img_path2': ('train/B',
            '.png'), 'seg_map_path': ('train/label', '.png')}``.
        extensions (Sequence[str], optional): Accepted file endings, with the
            dot (``'.png'``); None accepts every ending. Defaults to None.
        backend_args (dict, optional): mmengine file backend arguments.
            Defaults to None.

    Returns:
        FolderPairs: The samples found in every folder and the leftovers.

    Raises:
        FileNotFoundError: If a folder does not exist.
    """
    exts = None if extensions is None else tuple(e.lower() for e in extensions)
    listed: Dict[str, Dict[str, str]] = {}
    found = FolderPairs(sources=dict(sources))
    for role, (folder, suffix) in sources.items():
        if not fileio.isdir(folder, backend_args=backend_args):
            raise FileNotFoundError(
                f'{role_name(role)} folder {folder} does not exist or is not '
                'a directory')
        names = {}
        unused = []
        for rel in sorted(
                fileio.list_dir_or_file(
                    folder,
                    list_dir=False,
                    recursive=True,
                    backend_args=backend_args)):
            path = fileio.join_path(folder, rel, backend_args=backend_args)
            if rel.endswith(suffix) and (exts is None
                                         or rel.lower().endswith(exts)):
                names[rel[:len(rel) - len(suffix)]] = path
            else:
                unused.append(path)
        listed[role] = names
        found.unused[role] = unused
    complete = set.intersection(*(set(n) for n in listed.values())) \
        if listed else set()
    for name in sorted(complete):
        found.pairs[name] = {
            role: names[name]
            for role, names in listed.items()
        }
    for role, names in listed.items():
        found.unpaired[role] = {
            name: names[name]
            for name in sorted(set(names) - complete)
        }
    return found


def pair_from_list(ann_file: str,
                   sources: Dict[str, Tuple[str, str]],
                   primary: str = 'img_path',
                   backend_args: Optional[dict] = None,
                   dataset_name: str = 'dataset') -> List[Dict[str, str]]:
    """Build samples from a text file of names, one per line.

    A line is a file name relative to the folders, with or without the
    primary suffix (``0001`` and ``0001.png`` are the same sample). Blank
    lines are ignored. Every listed file must exist in every folder.

    Args:
        ann_file (str): The text file of names.
        sources (dict): data_info key -> ``(folder, suffix)`` as in
            :func:`pair_folders`.
        primary (str): Key whose suffix a listed name may carry.
            Defaults to 'img_path'.
        backend_args (dict, optional): mmengine file backend arguments.
            Defaults to None.
        dataset_name (str): Name used in error messages.
            Defaults to 'dataset'.

    Returns:
        list[dict]: One dict per sample in file order, data_info key -> path.

    Raises:
        FileNotFoundError: If ``ann_file`` or a listed file does not exist.
        ValueError: If ``ann_file`` lists no name or a name twice.
    """
    if not fileio.isfile(ann_file, backend_args=backend_args):
        raise FileNotFoundError(f'{dataset_name}: ann_file {ann_file} does '
                                'not exist')
    prim_suffix = sources[primary][1]
    names = [
        line.strip() for line in mmengine.list_from_file(
            ann_file, backend_args=backend_args)
    ]
    names = [n for n in names if n]
    if not names:
        raise ValueError(f'{dataset_name}: ann_file {ann_file} lists no '
                         'sample')
    samples = []
    missing = []
    seen: Dict[str, int] = {}
    for lineno, name in enumerate(names, start=1):
        stem = name[:-len(prim_suffix)] if name.endswith(prim_suffix) \
            else name
        if stem in seen:
            raise ValueError(f'{dataset_name}: ann_file {ann_file} lists '
                             f'"{stem}" twice (entries {seen[stem]} and '
                             f'{lineno})')
        seen[stem] = lineno
        sample = {}
        for key, (folder, suffix) in sources.items():
            path = fileio.join_path(
                folder, stem + suffix, backend_args=backend_args)
            if not fileio.isfile(path, backend_args=backend_args):
                missing.append(
                    f'{role_name(key)} {path}{not_regular_note(path)}')
            sample[key] = path
        samples.append(sample)
    if missing:
        raise FileNotFoundError(
            f'{dataset_name}: {len(missing)} file(s) listed in {ann_file} '
            f'do not exist: {short_listing(missing)}')
    return samples
