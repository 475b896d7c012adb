"""Errors of the command-line tools: one line for the user, the traceback in
the log file (or on screen with ``--debug``)."""
import contextlib
import logging
import sys
import traceback
from typing import Iterator, List

from mmengine.logging import MMLogger


def one_line(err: BaseException) -> str:
    """The message of ``err`` as one line, ``'ValueError: ...'``.

    An error raised in a DataLoader worker reaches the main process wrapped
    (``Caught ValueError in DataLoader worker process 0. Original
    Traceback ...``); its last line is the original error, so that is used.

    Args:
        err (BaseException): The error.

    Returns:
        str: ``'<type>: <message>'`` on one line.
    """
    text = str(err.args[0]) if len(err.args) == 1 and isinstance(
        err.args[0], str) else str(err)
    if 'Original Traceback' in text:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines[-1]
    text = ' '.join(line.strip() for line in text.splitlines())
    return f'{type(err).__name__}: {text}' if text else type(err).__name__


def _log_files() -> List[logging.FileHandler]:
    """File handlers of the current mmengine logger (the run's log file)."""
    logger = MMLogger.get_current_instance()
    return [h for h in logger.handlers if isinstance(h, logging.FileHandler)]


@contextlib.contextmanager
def tool_errors(tool: str, debug: bool = False) -> Iterator[None]:
    """Turn an error of a tool's run into one line on stderr and exit 1.

    The full traceback goes to the run's log file when one is open (then
    the line names it) and is printed as usual with ``debug=True``.
    ``KeyboardInterrupt`` and ``SystemExit`` pass through untouched.

    Args:
        tool (str): Name in front of the line, e.g. ``'tools/train.py'``.
        debug (bool): Re-raise instead (``--debug``). Defaults to False.

    Raises:
        SystemExit: With code 1 after printing the line.
    """
    try:
        yield
    except Exception as err:
        if debug:
            raise
        files = _log_files()
        trace = ''.join(traceback.format_exception(err))
        for handler in files:
            handler.stream.write(trace)
            handler.flush()
        where = (f'traceback in {files[0].baseFilename}'
                 if files else 'rerun with --debug for the traceback')
        print(f'{tool}: error: {one_line(err)} ({where})', file=sys.stderr)
        raise SystemExit(1) from None


def add_debug_option(parser) -> None:
    """Add ``--debug`` (full traceback instead of :func:`tool_errors`' line).

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
    """
    parser.add_argument(
        '--debug',
        action='store_true',
        help='show the full traceback of an error instead of one line')
