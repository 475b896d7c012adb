"""Match the images of two date folders by file name (``tools/infer.py``).

A thin use of :func:`mmcd_ext.datasets.file_pairing.pair_folders`, the one
folder pairing of the package: here the whole relative path is the name and
only image files take part. Leftovers are returned, not raised, so the tool
can process the pairs and list the rest.
"""
from typing import Sequence

from mmcd_ext.datasets.file_pairing import FolderPairs, pair_folders

__all__ = ['IMAGE_EXTENSIONS', 'FolderPairs', 'match_folder_pairs']

#: File endings read as images in folder mode (case-insensitive).
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')


def match_folder_pairs(
        dir_a: str,
        dir_b: str,
        extensions: Sequence[str] = IMAGE_EXTENSIONS) -> FolderPairs:
    """Pair the images of two folders that have the same relative path.

    ``A/site1/0001.png`` pairs with ``B/site1/0001.png`` (not with
    ``B/site1/0001.jpg``).

    Args:
        dir_a (str): Folder of date-A images (role ``img_path``).
        dir_b (str): Folder of date-B images (role ``img_path2``).
        extensions (Sequence[str]): Image file endings, with the dot.
            Defaults to :data:`IMAGE_EXTENSIONS`.

    Returns:
        FolderPairs: ``pairs`` (name -> ``{'img_path': a, 'img_path2': b}``),
        ``unpaired`` (images without a partner, per role) and ``unused``
        (files that are not images, per role).

    Raises:
        FileNotFoundError: If a folder does not exist.
    """
    sources = dict(img_path=(dir_a, ''), img_path2=(dir_b, ''))
    return pair_folders(sources, extensions=extensions)
