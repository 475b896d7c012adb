"""Match the images of two date folders by file name, reporting leftovers."""
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import List, Sequence, Tuple

#: File endings read as images in folder mode (case-insensitive).
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')


@dataclass
class FolderPairs:
    """Result of :func:`match_folder_pairs`.

    Args:
        pairs (list[tuple[str, str, str]]): ``(name, path_a, path_b)`` per
            matched pair, ``name`` being the path relative to the folders.
        only_a (list[str]): Images of folder A without a partner in B.
        only_b (list[str]): Images of folder B without a partner in A.
        not_images (list[str]): Files of either folder that are not images
            (by extension) and are not used.
    """
    pairs: List[Tuple[str, str, str]] = field(default_factory=list)
    only_a: List[str] = field(default_factory=list)
    only_b: List[str] = field(default_factory=list)
    not_images: List[str] = field(default_factory=list)

    @property
    def unmatched(self) -> List[str]:
        """Every image without a partner, folder A's first."""
        return self.only_a + self.only_b


def _list_files(folder: str) -> List[str]:
    """Relative paths of every file under ``folder`` (sorted, recursive)."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in files:
            if name.startswith('.'):
                continue
            found.append(osp.relpath(osp.join(root, name), folder))
    return sorted(found)


def match_folder_pairs(
        dir_a: str,
        dir_b: str,
        extensions: Sequence[str] = IMAGE_EXTENSIONS) -> FolderPairs:
    """Pair the images of two folders that have the same relative path.

    ``A/site1/0001.png`` pairs with ``B/site1/0001.png``. Images present in
    one folder only and files that are not images are returned, not
    dropped, so the caller can report them.

    Args:
        dir_a (str): Folder of date-A images.
        dir_b (str): Folder of date-B images.
        extensions (Sequence[str]): Image file endings (lower case, with the
            dot). Defaults to :data:`IMAGE_EXTENSIONS`.

    Returns:
        FolderPairs: The pairs (sorted by name) and the leftovers.

    Raises:
        FileNotFoundError: If a folder does not exist.
    """
    for role, folder in (('date-A', dir_a), ('date-B', dir_b)):
        if not osp.isdir(folder):
            raise FileNotFoundError(f'{role} folder {folder} does not exist '
                                    'or is not a directory')
    exts = tuple(e.lower() for e in extensions)
    listed = {}
    result = FolderPairs()
    for key, folder in (('a', dir_a), ('b', dir_b)):
        images = []
        for rel in _list_files(folder):
            if rel.lower().endswith(exts):
                images.append(rel)
            else:
                result.not_images.append(osp.join(folder, rel))
        listed[key] = set(images)
    for name in sorted(listed['a'] & listed['b']):
        result.pairs.append((name, osp.join(dir_a,
                                            name), osp.join(dir_b, name)))
    result.only_a = [
        osp.join(dir_a, n) for n in sorted(listed['a'] - listed['b'])
    ]
    result.only_b = [
        osp.join(dir_b, n) for n in sorted(listed['b'] - listed['a'])
    ]
    return result
