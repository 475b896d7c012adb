"""mmengine's checkpoint hook with atomic checkpoint files."""
import contextlib
import os
import os.path as osp
from typing import Iterator

from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.runner import Runner

from mmcd_ext.registry import HOOKS
from mmcd_ext.utils.atomic import commit_file, temporary_name


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` whose checkpoints are never seen half-written.

    mmengine's Runner writes ``iter_N.pth`` / ``epoch_N.pth`` /
    ``best_*.pth`` in place, so a kill or a full disk during the write
    leaves a truncated file under the real name, which ``--resume`` or
    ``tools/test.py`` then takes for a checkpoint. This hook takes the same
    arguments and does everything mmengine's does, but while it saves, the
    Runner's ``save_checkpoint`` writes to a hidden temporary file in the
    same folder, which is synced to disk and then renamed to the real name
    (see :mod:`mmcd_ext.utils.atomic`). The ``last_checkpoint`` marker is
    written after the rename, so it never names a partial file. A failed
    save removes its temporary file and leaves earlier checkpoints intact.

    Only local folders are handled this way; with another file backend
    (``backend_args``) saving is mmengine's unchanged.
    """

    @contextlib.contextmanager
    def _atomic_saves(self, runner: Runner) -> Iterator[None]:
        """Route ``runner.save_checkpoint`` through a temporary file."""
        if not isinstance(self.file_backend, LocalBackend) \
                or getattr(self, '_routing', False):  # local, not nested
            yield
            return
        own = vars(runner)
        had_own, previous = 'save_checkpoint' in own, own.get(
            'save_checkpoint')
        save = runner.save_checkpoint

        def save_atomically(out_dir: str, filename: str, *args,
                            **kwargs) -> None:
            os.makedirs(out_dir, exist_ok=True)
            dst = osp.join(out_dir, filename)
            tmp = temporary_name(dst)
            try:
                save(out_dir, osp.basename(tmp), *args, **kwargs)
                commit_file(tmp, dst)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(tmp)
                raise

        runner.save_checkpoint = save_atomically
        self._routing = True
        try:
            yield
        finally:
            self._routing = False
            if had_own:
                runner.save_checkpoint = previous
            else:
                del runner.save_checkpoint  # back to the class's method

    def _save_checkpoint_with_step(self, runner: Runner, step: int,
                                   meta: dict) -> None:
        with self._atomic_saves(runner):
            super()._save_checkpoint_with_step(runner, step, meta)

    def _save_best_checkpoint(self, runner: Runner, metrics: dict) -> None:
        with self._atomic_saves(runner):
            super()._save_best_checkpoint(runner, metrics)
