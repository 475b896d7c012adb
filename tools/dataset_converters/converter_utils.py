"""Command-line helpers shared by the dataset converters in this folder."""
import os.path as osp
import sys


def check_src_dst(src: str, dst: str) -> None:
    """Refuse to write the converted data into the folder it is read from.

    Args:
        src (str): Input folder.
        dst (str): Output folder.

    Raises:
        ValueError: If both name the same folder.
    """
    if osp.realpath(src) == osp.realpath(dst):
        raise ValueError('SRC and DST must be different folders')


def print_progress(line: str, done: int, total: int) -> None:
    """Print a progress line after ``done`` of ``total`` items.

    On a terminal the line is redrawn in place and ended after the last
    item; otherwise (a log file) it is printed at every 10 % and at the end.

    Args:
        line (str): The progress text, e.g. ``'[train] 3/10 tiles'``.
        done (int): Items finished (1-based).
        total (int): Number of items.
    """
    if sys.stdout.isatty():
        print('\r' + line, end='\n' if done == total else '', flush=True)
    elif done == total or done % max(1, total // 10) == 0:
        print(line, flush=True)
