"""Semantic change outputs of ``tools/infer.py``: file names and run total.

The CLI keeps only call sites; what a semantic change model adds to a run
lives here so other front ends (e.g. a distributed runner whose rank 0
merges the per-scene summaries) reuse it:

* :func:`geo_semantic_paths`: the extra files of a GeoTIFF scene;
* :func:`run_transitions_path`: the run's total transition CSV;
* :class:`TransitionTotals`: collects per-scene summaries, writes the
  total and prints the table.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, TextIO, Union

from .transitions import TransitionSummary

#: File name of a run's total transition summary inside ``--out``.
RUN_TRANSITIONS = 'transitions.csv'


def geo_semantic_paths(out_file: str) -> Dict[str, str]:
    """Files a semantic change model adds for one GeoTIFF scene.

    Named after the change GeoTIFF without its ``_change`` suffix:
    ``out/x_change.tif`` gives ``out/x_semantic_a.tif``,
    ``out/x_semantic_b.tif`` and ``out/x_transitions.csv``.

    Args:
        out_file (str): The scene's change GeoTIFF.

    Returns:
        dict[str, str]: Kind of output -> file.
    """
    base = osp.splitext(out_file)[0]
    if base.endswith('_change'):
        base = base[:-len('_change')]
    return {
        'class GeoTIFF A': base + '_semantic_a.tif',
        'class GeoTIFF B': base + '_semantic_b.tif',
        'transition summary': base + '_transitions.csv',
    }


def run_transitions_path(out_dir: str) -> str:
    """The run's total transition CSV in the output folder."""
    return osp.join(out_dir, RUN_TRANSITIONS)


class TransitionTotals:
    """Add up the transition summaries of a run's scenes.

    Args:
        class_names (Sequence[str], optional): Names of the class indices.
            Defaults to None.
    """

    def __init__(self, class_names: Optional[Sequence[str]] = None) -> None:
        self.class_names = class_names
        self.summaries: List[TransitionSummary] = []

    def add(self, summary: Union[TransitionSummary, dict, None]) -> None:
        """Add one scene's summary (a ``to_dict()`` dict too; None skips)."""
        if summary is None:
            return
        if isinstance(summary, dict):
            summary = TransitionSummary.from_dict(summary)
        self.summaries.append(summary)

    def total(self) -> Optional[TransitionSummary]:
        """The sum, or None when no scene was added."""
        if not self.summaries:
            return None
        return TransitionSummary.merge(self.summaries)

    def finish(self,
               csv_path: Optional[str] = None,
               stream: Optional[TextIO] = None) -> Optional[TransitionSummary]:
        """Write the total CSV (if a path is given) and print the table.

        Args:
            csv_path (str, optional): Where to write the total. Defaults to
                None.
            stream (TextIO, optional): Where to print the table. Defaults
                to None (nowhere).

        Returns:
            TransitionSummary | None: The total.
        """
        total = self.total()
        if total is None:
            return None
        if csv_path:
            total.write_csv(csv_path)
        if stream is not None:
            scenes = len(self.summaries)
            print(
                f'semantic change transitions ({scenes} scene'
                f'{"s" if scenes != 1 else ""}, changed area by class in '
                'date A -> date B):',
                file=stream)
            print(total.to_table(), file=stream, flush=True)
        return total
