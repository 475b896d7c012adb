"""Checks on the input and output folders of a converter."""
import os.path as osp


def check_src_dst(src: str, dst: str) -> None:
    """Refuse to write the converted data into the folder it is read from.

    Args:
        src (str): Input folder.
        dst (str): Output folder.

    Raises:
        ValueError: If both name the same folder.
    """
    if osp.realpath(src) == osp.realpath(dst):
        raise ValueError(f'SRC and DST must be different folders, both are '
                         f'{osp.realpath(src)}')
