"""Every path an inference run will write, checked before anything is written.

Rules (docs/inference.md, "Outputs are never destructive"):

* an output never resolves (after symlinks) to one of the run's inputs;
* two outputs of one run never resolve to the same file (two inputs whose
  names map to one output name are an error naming both);
* an output folder is never one of the input folders;
* an existing file is replaced only with ``overwrite=True``
  (``--overwrite``); otherwise the run stops before writing anything.
"""
import os.path as osp
from typing import Dict, Iterable, List, Tuple


class OutputPathError(ValueError):
    """An output path breaks one of the rules; the message names it."""


class OutputPlan:
    """Collects the outputs of a run and refuses the destructive ones.

    Args:
        inputs (Iterable[str]): Every input file of the run (images,
            scenes, the checkpoint and the config count too).
        input_dirs (Iterable[str]): Input folders, which no output may be
            written into directly. Defaults to ().
        overwrite (bool): Whether existing files may be replaced.
            Defaults to False.
    """

    def __init__(self,
                 inputs: Iterable[str],
                 input_dirs: Iterable[str] = (),
                 overwrite: bool = False) -> None:
        self.overwrite = overwrite
        self._inputs = {osp.realpath(p): p for p in inputs}
        self._input_dirs = {osp.realpath(d): d for d in input_dirs}
        self._outputs: Dict[str, Tuple[str, str]] = {}

    def add(self, path: str, source: str) -> str:
        """Register one output file; raise if it breaks a rule.

        Args:
            path (str): The output file.
            source (str): What it is written from (an input name), for the
                message when two inputs collide.

        Returns:
            str: ``path``, so calls can be chained into assignments.

        Raises:
            OutputPathError: If ``path`` is an input, another output of the
                run, inside an input folder, a folder, or an existing file
                without ``overwrite``.
        """
        real = osp.realpath(path)
        if real in self._inputs:
            raise OutputPathError(
                f'output {path} would overwrite the input '
                f'{self._inputs[real]}; choose another output path')
        folder = osp.dirname(real)
        if folder in self._input_dirs:
            raise OutputPathError(
                f'output {path} would be written into the input folder '
                f'{self._input_dirs[folder]}; choose another --out')
        if real in self._outputs:
            other, other_source = self._outputs[real]
            raise OutputPathError(
                f'{source} and {other_source} would both be written to '
                f'{other}; rename one of them or run them separately')
        if osp.isdir(real):
            raise OutputPathError(f'output {path} is an existing folder')
        if osp.lexists(path) and not self.overwrite:
            raise OutputPathError(
                f'output {path} exists; pass --overwrite to replace it, or '
                'choose another output path')
        self._outputs[real] = (path, source)
        return path

    @property
    def paths(self) -> List[str]:
        """The registered output paths, in the order they were added."""
        return [path for path, _ in self._outputs.values()]
