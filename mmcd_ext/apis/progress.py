"""A dependency-free progress line for long inference runs (on stderr)."""
import sys
import time
from typing import Callable, Optional, TextIO


def format_duration(seconds: float) -> str:
    """Format seconds: ``3725.2`` -> ``'1h02m05s'``, ``4.2`` -> ``'4s'``.

    Args:
        seconds (float): A non-negative duration.

    Returns:
        str: The duration, rounded to whole seconds.
    """
    total = int(round(max(seconds, 0.0)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f'{hours}h{minutes:02d}m{secs:02d}s'
    if minutes:
        return f'{minutes}m{secs:02d}s'
    return f'{secs}s'


class ProgressPrinter:
    """Print ``done/total``, the rate and the ETA of a job.

    On a terminal the line is redrawn in place (carriage return); otherwise
    (a log file, a CI job) a new line is written at most every ``interval``
    seconds, plus the final one.

    Args:
        total (int): Number of units of work.
        unit (str): Name of a unit, e.g. ``'tiles'``. Defaults to 'tiles'.
        desc (str): Text in front of the counter. Defaults to ''.
        stream (TextIO, optional): Where to print. Defaults to None
            (``sys.stderr``).
        interval (float): Minimum seconds between two lines when the stream
            is not a terminal. Defaults to 10.0.
        enabled (bool): False prints nothing. Defaults to True.
        clock (Callable[[], float]): Time source (seconds), replaceable in
            tests. Defaults to ``time.monotonic``.
    """

    def __init__(self,
                 total: int,
                 unit: str = 'tiles',
                 desc: str = '',
                 stream: Optional[TextIO] = None,
                 interval: float = 10.0,
                 enabled: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if total < 0:
            raise ValueError(f'total must not be negative, got {total}')
        self.total = total
        self.unit = unit
        self.desc = desc
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.enabled = enabled
        self.clock = clock
        self.done = 0
        self.start = clock()
        self._last_print = -float('inf')
        isatty = getattr(self.stream, 'isatty', None)
        self._tty = bool(isatty and isatty())

    def line(self) -> str:
        """The current progress text."""
        elapsed = self.clock() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        pct = 100.0 * self.done / self.total if self.total else 100.0
        text = (f'{self.desc}{self.done}/{self.total} {self.unit} '
                f'({pct:.0f}%), {rate:.2f} {self.unit}/s, elapsed '
                f'{format_duration(elapsed)}')
        if self.done < self.total:
            eta = (self.total - self.done) / rate if rate > 0 else None
            text += ', ETA ' + ('?' if eta is None else format_duration(eta))
        return text

    def update(self, n: int = 1) -> None:
        """Record ``n`` more finished units and print if it is time to."""
        self.done = min(self.done + n, self.total)
        if not self.enabled:
            return
        now = self.clock()
        if self._tty:
            self.stream.write('\r' + self.line() + '\x1b[K')
            self.stream.flush()
        elif now - self._last_print >= self.interval \
                or self.done == self.total:
            self.stream.write(self.line() + '\n')
            self.stream.flush()
            self._last_print = now

    def close(self) -> None:
        """End the line (terminal) so later output starts on a new one."""
        if self.enabled and self._tty:
            self.stream.write('\n')
            self.stream.flush()
