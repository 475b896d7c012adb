"""Tests of CDVisualizationHook."""
from pathlib import Path
from types import SimpleNamespace
from typing import List, Optional, Tuple

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmengine.visualization import Visualizer
from mmseg.structures import SegDataSample

from mmcd_ext.engine import CDVisualizationHook
from mmcd_ext.registry import HOOKS
from mmcd_ext.visualization import CDLocalVisualizer

H, W = 32, 32


def write_dates(tmp_path: Path,
                name: str = 'tile_3.png',
                seed: int = 0) -> Tuple[List[str], List[np.ndarray]]:
    """Two RGB images, date A in A/, date B in B/; returns paths and arrays."""
    rng = np.random.default_rng(seed)
    arrays = []
    paths = []
    for folder in ('A', 'B'):
        rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        (tmp_path / folder).mkdir(exist_ok=True)
        path = tmp_path / folder / name
        cv2.imwrite(str(path), rgb[..., ::-1])  # cv2 writes BGR
        arrays.append(rgb)
        paths.append(str(path))
    return paths, arrays


def make_output(img_path: str, img_path2: Optional[str], pred: np.ndarray,
                gt: np.ndarray) -> SegDataSample:
    sample = SegDataSample(metainfo=dict(img_path=img_path))
    if img_path2 is not None:
        sample.set_metainfo(dict(img_path2=img_path2))
    sample.pred_sem_seg = PixelData(data=torch.from_numpy(pred)[None])
    sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt)[None])
    return sample


def make_visualizer(tmp_path: Path, name: str) -> CDLocalVisualizer:
    # get_instance makes it the current instance, which the hook picks up,
    # as the Runner does with the config's visualizer.
    return CDLocalVisualizer.get_instance(
        name,
        vis_backends=[dict(type='LocalVisBackend')],
        save_dir=str(tmp_path / 'show'))


def maps() -> Tuple[np.ndarray, np.ndarray]:
    pred = np.zeros((H, W), np.uint8)
    gt = np.zeros((H, W), np.uint8)
    pred[0, 0] = gt[0, 0] = 1  # TP
    gt[1, 1] = 1  # FN
    return pred, gt


def test_registered() -> None:
    assert HOOKS.get('CDVisualizationHook') is CDVisualizationHook


def test_test_mode_writes_both_dates_and_overlay(tmp_path: Path) -> None:
    make_visualizer(tmp_path, f'hook_vis_{tmp_path.name}')
    (path_a, path_b), (img_a, img_b) = write_dates(tmp_path)
    hook = CDVisualizationHook(draw=True, interval=1)
    runner = SimpleNamespace(iter=0)
    hook.after_test_iter(runner, 0, {}, [make_output(path_a, path_b, *maps())])
    out_file = tmp_path / 'show' / 'vis_data' / 'vis_image' / \
        'test_tile_3.png_0.png'
    assert out_file.is_file()
    drawn = cv2.imread(str(out_file))[..., ::-1]
    assert drawn.shape == (H, 3 * W, 3)
    np.testing.assert_array_equal(drawn[:, :W], img_a)
    np.testing.assert_array_equal(drawn[:, W:2 * W], img_b)
    assert drawn[0, 2 * W].tolist() == [255, 255, 0]
    assert drawn[1, 2 * W + 1].tolist() == [0, 255, 0]


def test_test_out_dir_names_files_after_date_a(tmp_path: Path) -> None:
    make_visualizer(tmp_path, f'hook_vis_out_{tmp_path.name}')
    (path_a, path_b), (img_a, _) = write_dates(tmp_path, 'test_0001.png')
    out_dir = tmp_path / 'overlays'
    hook = CDVisualizationHook(
        draw=True, interval=1, test_out_dir=str(out_dir))
    runner = SimpleNamespace(iter=0, work_dir=str(tmp_path), timestamp='t')
    hook.after_test_iter(runner, 0, {}, [make_output(path_a, path_b, *maps())])
    assert sorted(p.name for p in out_dir.iterdir()) == ['test_0001.png']
    drawn = cv2.imread(str(out_dir / 'test_0001.png'))[..., ::-1]
    np.testing.assert_array_equal(drawn[:, :W], img_a)
    # nothing went to the vis backend's folder
    assert not (tmp_path / 'show' / 'vis_data' / 'vis_image').exists()
    # a relative folder is taken under work_dir/timestamp
    rel = CDVisualizationHook(draw=True, interval=1, test_out_dir='vis')
    rel.after_test_iter(runner, 0, {}, [make_output(path_a, path_b, *maps())])
    assert (tmp_path / 't' / 'vis' / 'test_0001.png').is_file()


def test_test_out_dir_refuses_two_samples_with_one_stem(
        tmp_path: Path) -> None:
    make_visualizer(tmp_path, f'hook_vis_dup_{tmp_path.name}')
    (path_a, path_b), _ = write_dates(tmp_path, 'x.png')
    (tmp_path / 'sub').mkdir()
    (other_a, other_b), _ = write_dates(tmp_path / 'sub', 'x.png', seed=1)
    hook = CDVisualizationHook(
        draw=True, interval=1, test_out_dir=str(tmp_path / 'out'))
    runner = SimpleNamespace(iter=0, work_dir=str(tmp_path), timestamp='t')
    hook.after_test_iter(runner, 0, {}, [make_output(path_a, path_b, *maps())])
    first = (tmp_path / 'out' / 'x.png').read_bytes()
    with pytest.raises(ValueError, match='x.png.*same file stem'):
        hook.after_test_iter(runner, 1, {},
                             [make_output(other_a, other_b, *maps())])
    assert (tmp_path / 'out' / 'x.png').read_bytes() == first


def test_interval_and_draw_false(tmp_path: Path) -> None:
    make_visualizer(tmp_path, f'hook_vis_interval_{tmp_path.name}')
    (path_a, path_b), _ = write_dates(tmp_path)
    outputs = [make_output(path_a, path_b, *maps())]
    image_dir = tmp_path / 'show' / 'vis_data' / 'vis_image'
    with pytest.warns(UserWarning, match='draw is False'):
        off = CDVisualizationHook(draw=False, interval=1)
    off.after_test_iter(SimpleNamespace(iter=0), 0, {}, outputs)
    assert not image_dir.exists() or not any(image_dir.iterdir())
    hook = CDVisualizationHook(draw=True, interval=2)
    hook.after_val_iter(SimpleNamespace(iter=5), 0, {}, outputs)  # skipped
    assert not image_dir.exists() or not any(image_dir.iterdir())
    hook.after_val_iter(SimpleNamespace(iter=5), 1, {}, outputs)
    assert (image_dir / 'val_tile_3.png_5.png').is_file()


def test_clear_errors(tmp_path: Path) -> None:
    make_visualizer(tmp_path, f'hook_vis_err_{tmp_path.name}')
    (path_a, path_b), _ = write_dates(tmp_path)
    hook = CDVisualizationHook(draw=True, interval=1)
    runner = SimpleNamespace(iter=0)
    with pytest.raises(KeyError, match='tile_3.png.*img_path2'):
        hook.after_test_iter(runner, 0, {},
                             [make_output(path_a, None, *maps())])
    missing = str(tmp_path / 'B' / 'nope.png')
    with pytest.raises(FileNotFoundError, match='img_path2.*nope.png'):
        hook.after_test_iter(runner, 0, {},
                             [make_output(path_a, missing, *maps())])
    # A plain mmengine visualizer cannot draw two dates.
    Visualizer.get_instance(f'plain_vis_{tmp_path.name}')
    plain = CDVisualizationHook(draw=True, interval=1)
    with pytest.raises(TypeError, match='CDLocalVisualizer'):
        plain.after_test_iter(runner, 0, {},
                              [make_output(path_a, path_b, *maps())])
