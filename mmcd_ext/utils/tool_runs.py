"""Running the command-line tools from a script: the benchmark scripts'
shared steps (train with ``tools/train.py``, find its checkpoint, test with
``tools/test.py``, read the metrics it wrote, count a config's parameters).
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Tuple


class ToolRunner:
    """Runs repository tools as child processes and reads what they wrote.

    Every failure ends the calling script with ``sys.exit`` and a message
    that starts with ``name``.

    Args:
        root (str): Repository root; commands run there and relative work
            directories are taken from there.
        name (str): Prefix of error messages, e.g. ``'frnet benchmark'``.
    """

    def __init__(self, root: str, name: str) -> None:
        self.root = root
        self.name = name

    def run(self, cmd: List[str], threads: int) -> float:
        """Run one command from the repository root; exit if it fails.

        Args:
            cmd (list[str]): The command.
            threads (int): ``OMP_NUM_THREADS`` of the child.

        Returns:
            float: Wall-clock seconds.
        """
        print('\n$ ' + ' '.join(cmd), flush=True)
        env = dict(
            os.environ,
            OMP_NUM_THREADS=str(threads),
            PYTHONPATH=self.root + os.pathsep +
            os.environ.get('PYTHONPATH', ''))
        start = time.time()
        proc = subprocess.run(cmd, cwd=self.root, env=env)
        if proc.returncode != 0:
            sys.exit(f'{self.name}: command failed (exit '
                     f'{proc.returncode}): ' + ' '.join(cmd))
        return time.time() - start

    def last_checkpoint(self, work_dir: str) -> str:
        """The checkpoint the Runner recorded last in ``work_dir``.

        Args:
            work_dir (str): Work directory of a training.

        Returns:
            str: Path of the checkpoint.
        """
        marker = osp.join(self.root, work_dir, 'last_checkpoint')
        if not osp.isfile(marker):
            sys.exit(f'{self.name}: no last_checkpoint in {work_dir}')
        with open(marker) as f:
            return f.read().strip()

    def test_metrics(self, test_dir: str) -> Dict[str, float]:
        """The metrics json ``tools/test.py`` wrote last under ``test_dir``.

        Args:
            test_dir (str): ``--work-dir`` of ``tools/test.py``.

        Returns:
            dict[str, float]: The metrics.
        """
        files = sorted(
            glob.glob(osp.join(self.root, test_dir, '*', '*.json')),
            key=osp.getmtime)
        if not files:
            sys.exit(f'{self.name}: no metrics json under {test_dir}')
        with open(files[-1]) as f:
            return json.load(f)

    def train_and_test(
            self, config: str, work_dir: str, seed: int, options: List[str],
            threads: int) -> Tuple[str, float, float, Dict[str, float]]:
        """Train ``config`` with ``tools/train.py``, test its last checkpoint.

        Args:
            config (str): Config path relative to the repository.
            work_dir (str): ``--work-dir`` of the training; the test writes
                to ``{work_dir}/test``.
            seed (int): ``randomness.seed`` of the training.
            options (list[str]): ``key=value`` overrides for both commands.
            threads (int): ``OMP_NUM_THREADS`` of the children.

        Returns:
            tuple: Checkpoint path, training seconds, test seconds and the
            metrics ``tools/test.py`` wrote.
        """
        py = sys.executable
        train_s = self.run([
            py, 'tools/train.py', config, '--work-dir', work_dir,
            '--cfg-options', f'randomness.seed={seed}', *options
        ], threads)
        ckpt = self.last_checkpoint(work_dir)
        test_dir = osp.join(work_dir, 'test')
        opts = ['--cfg-options', *options] if options else []
        test_s = self.run(
            [py, 'tools/test.py', config, ckpt, '--work-dir', test_dir, *opts],
            threads)
        return ckpt, train_s, test_s, self.test_metrics(test_dir)

    def count_parameters(self, config: str, options: List[str]) -> int:
        """Parameters of the model a config builds (with the overrides).

        Args:
            config (str): Config path relative to the repository.
            options (list[str]): ``key=value`` overrides.

        Returns:
            int: Number of parameters.
        """
        from mmengine.config import Config, DictAction

        from mmcd_ext.registry import MODELS
        from mmcd_ext.utils import register_all_modules
        register_all_modules()
        cfg = Config.fromfile(osp.join(self.root, config))
        if options:
            parsed = argparse.ArgumentParser()
            parsed.add_argument('--o', nargs='+', action=DictAction)
            cfg.merge_from_dict(parsed.parse_args(['--o', *options]).o)
        return sum(p.numel() for p in MODELS.build(cfg.model).parameters())
