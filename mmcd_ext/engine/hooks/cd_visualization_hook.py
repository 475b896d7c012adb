"""Visualization hook that loads both dates of a change detection sample."""
import os.path as osp
from typing import Dict, Optional, Sequence

import mmcv
import numpy as np
from mmengine.runner import Runner
from mmengine.utils import mkdir_or_exist
from mmseg.engine.hooks import SegVisualizationHook
from mmseg.structures import SegDataSample

from mmcd_ext.datasets.transforms.loading import read_image_file
from mmcd_ext.registry import HOOKS
from mmcd_ext.visualization import CDLocalVisualizer


@HOOKS.register_module()
class CDVisualizationHook(SegVisualizationHook):
    """Draw validation / test predictions of change detection models.

    Same contract as mmseg's ``SegVisualizationHook`` (whose arguments it
    takes unchanged): nothing happens unless ``draw=True``; every
    ``interval``-th batch of the val and test loops is drawn; the drawing
    goes to the visualizer's vis backends (``{name}_{step}.png`` under
    ``vis_data/vis_image/`` for the local backend). In the test loop with
    ``test_out_dir`` set (``tools/test.py --show-dir DIR`` sets it to
    ``DIR``, as mmdet's hook does), each drawing is written to
    ``test_out_dir/<stem of date A's file>.png`` instead: ``A/test_0001.png``
    gives ``DIR/test_0001.png``. Two test samples whose date-A files share a
    stem would write the same file; that is an error, not an overwrite.
    Set ``interval=1`` to draw every test sample.

    The difference: both dates are read, from ``img_path`` (date A) and
    ``img_path2`` (date B) of each data sample, and handed to the
    visualizer as a pair, so the visualizer must be a
    :class:`~mmcd_ext.visualization.CDLocalVisualizer`.

    Args:
        draw (bool): Whether to draw at all. Defaults to False.
        interval (int): Draw every ``interval``-th batch. Defaults to 50.
        show (bool): Show the drawings in a window instead of storing them.
            Defaults to False.
        wait_time (float): Seconds each window is shown. Defaults to 0.
        backend_args (dict, optional): mmengine file backend arguments used
            to read the images. Defaults to None.
        test_out_dir (str, optional): Folder for the test drawings; a
            relative path is taken under ``{work_dir}/{timestamp}``.
            Defaults to None (test drawings go to the vis backends).
    """

    def __init__(self,
                 draw: bool = False,
                 interval: int = 50,
                 show: bool = False,
                 wait_time: float = 0.,
                 backend_args: Optional[dict] = None,
                 test_out_dir: Optional[str] = None) -> None:
        super().__init__(
            draw=draw,
            interval=interval,
            show=show,
            wait_time=wait_time,
            backend_args=backend_args)
        self.test_out_dir = test_out_dir
        self._written: Dict[str, str] = {}  # out file -> date A it shows

    def _test_out_file(self, runner: Runner, path_a: str) -> Optional[str]:
        """Where the test drawing of ``path_a`` goes (None: vis backends)."""
        if self.test_out_dir is None or self.show:
            return None
        out_dir = self.test_out_dir
        if not osp.isabs(out_dir):
            out_dir = osp.join(runner.work_dir, runner.timestamp, out_dir)
        mkdir_or_exist(out_dir)
        stem = osp.splitext(osp.basename(path_a))[0]
        out_file = osp.join(out_dir, stem + '.png')
        earlier = self._written.setdefault(out_file, path_a)
        if earlier != path_a:
            raise ValueError(f'{path_a}: its drawing {out_file} would replace '
                             f'the one of {earlier} (same file stem); give '
                             'the test images unique names')
        return out_file

    def _load_rgb(self, path: str, key: str, name: str) -> np.ndarray:
        """Read one date as an RGB array, ``(H, W, 3)``."""
        img = read_image_file(
            path,
            'color',
            backend_args=self.backend_args,
            what=f'{name}: "{key}"')
        return mmcv.bgr2rgb(img)

    def _after_iter(self,
                    runner: Runner,
                    batch_idx: int,
                    data_batch: dict,
                    outputs: Sequence[SegDataSample],
                    mode: str = 'val') -> None:
        """Draw the samples of every ``interval``-th val / test batch.

        Args:
            runner (Runner): The runner.
            batch_idx (int): Index of the batch in the loop.
            data_batch (dict): Batch from the dataloader (unused).
            outputs (Sequence[SegDataSample]): Model outputs, each with the
                metainfo ``img_path`` and ``img_path2``.
            mode (str): 'train', 'val' or 'test'. Defaults to 'val'.
        """
        if self.draw is False or mode == 'train':
            return
        if not self.every_n_inner_iters(batch_idx, self.interval):
            return
        if not isinstance(self._visualizer, CDLocalVisualizer):
            raise TypeError(
                'CDVisualizationHook needs the visualizer to be a '
                "CDLocalVisualizer (visualizer = dict(type='CDLocalVisualizer'"
                ', ...) in the config), got '
                f'{type(self._visualizer).__name__}')
        for output in outputs:
            paths = []
            for key in ('img_path', 'img_path2'):
                path = output.metainfo.get(key)
                if path is None:
                    name = output.metainfo.get('img_path', 'a data sample')
                    raise KeyError(f'{name}: the data sample has no "{key}" '
                                   'metainfo; change detection datasets must '
                                   'set img_path (date A) and img_path2 '
                                   '(date B)')
                paths.append(path)
            name = paths[0]
            img_a = self._load_rgb(paths[0], 'img_path', name)
            img_b = self._load_rgb(paths[1], 'img_path2', name)
            out_file = None
            if mode == 'test':
                out_file = self._test_out_file(runner, paths[0])
            self._visualizer.add_datasample(
                f'{mode}_{osp.basename(paths[0])}', (img_a, img_b),
                data_sample=output,
                show=self.show,
                wait_time=self.wait_time,
                out_file=out_file,
                step=runner.iter)
