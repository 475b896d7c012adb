"""Tests of CDLocalVisualizer."""
import os
from pathlib import Path
from typing import Dict, Tuple

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmcd_ext.registry import VISUALIZERS
from mmcd_ext.visualization import CDLocalVisualizer

LANDSAT_CLASSES = ('no change', 'farmland', 'desert', 'building', 'water')
LANDSAT_PALETTE = [[255, 255, 255], [0, 155, 0], [255, 165, 0], [230, 30, 100],
                   [0, 170, 240]]

H, W = 32, 40


def read_rgb(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[..., ::-1]


def dates(seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (H, W, 3), dtype=np.uint8),
            rng.integers(0, 256, (H, W, 3), dtype=np.uint8))


def binary_sample(pred: np.ndarray, gt: np.ndarray) -> SegDataSample:
    sample = SegDataSample()
    sample.pred_sem_seg = PixelData(data=torch.from_numpy(pred)[None])
    sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt)[None])
    return sample


def semantic_sample(maps: Dict[str, np.ndarray]) -> SegDataSample:
    sample = SegDataSample()
    for key, value in maps.items():
        sample.set_field(PixelData(data=torch.from_numpy(value)[None]), key)
    return sample


@pytest.fixture
def visualizer(request: pytest.FixtureRequest,
               tmp_path: Path) -> CDLocalVisualizer:
    return CDLocalVisualizer(
        name=f'vis_{request.node.name}',
        vis_backends=[dict(type='LocalVisBackend')],
        save_dir=str(tmp_path))


def test_registered_and_binary_default_meta(
        visualizer: CDLocalVisualizer) -> None:
    assert VISUALIZERS.get('CDLocalVisualizer') is CDLocalVisualizer
    assert visualizer.dataset_meta == dict(
        classes=['unchanged', 'changed'], palette=[[0, 0, 0], [255, 255, 255]])
    custom = CDLocalVisualizer(
        name='vis_custom_meta',
        classes=LANDSAT_CLASSES,
        palette=LANDSAT_PALETTE)
    assert custom.dataset_meta['palette'] == LANDSAT_PALETTE
    with pytest.raises(ValueError, match='palette'):
        CDLocalVisualizer(name='vis_bad_meta', classes=LANDSAT_CLASSES)


def test_binary_layout_and_colours(visualizer: CDLocalVisualizer,
                                   tmp_path: Path) -> None:
    img_a, img_b = dates()
    pred = np.zeros((H, W), np.uint8)
    gt = np.zeros((H, W), np.uint8)
    pred[0, 0], gt[0, 0] = 1, 1  # TP
    pred[1, 1] = 1  # FP
    gt[2, 2] = 1  # FN
    gt[3, 3] = 255  # ignored
    out_file = tmp_path / 'binary.png'
    drawn = visualizer.add_datasample(
        'binary',
        np.concatenate([img_a, img_b], axis=-1),
        binary_sample(pred, gt),
        out_file=str(out_file))
    saved = read_rgb(out_file)
    np.testing.assert_array_equal(saved, drawn)
    assert saved.shape == (H, 3 * W, 3)
    np.testing.assert_array_equal(saved[:, :W], img_a)
    np.testing.assert_array_equal(saved[:, W:2 * W], img_b)
    overlay = saved[:, 2 * W:]
    assert overlay[0, 0].tolist() == [255, 255, 0]
    assert overlay[1, 1].tolist() == [255, 0, 0]
    assert overlay[2, 2].tolist() == [0, 255, 0]
    assert overlay[3, 3].tolist() == [128, 128, 128]
    assert overlay[5, 5].tolist() == [0, 0, 0]
    # A pair of images draws the same as the concatenated array.
    pair = visualizer.add_datasample(
        'pair', (img_a, img_b),
        binary_sample(pred, gt),
        out_file=str(tmp_path / 'pair.png'))
    np.testing.assert_array_equal(pair, drawn)


def test_binary_prediction_only_goes_to_backend(visualizer: CDLocalVisualizer,
                                                tmp_path: Path) -> None:
    img_a, img_b = dates(1)
    pred = np.zeros((H, W), np.uint8)
    pred[4, 7] = 1
    drawn = visualizer.add_datasample(
        'val_x.png', (img_a, img_b),
        binary_sample(pred, pred),
        draw_gt=False,
        step=3)
    saved = read_rgb(tmp_path / 'vis_data' / 'vis_image' / 'val_x.png_3.png')
    np.testing.assert_array_equal(saved, drawn)
    assert saved[4, 2 * W + 7].tolist() == [255, 255, 255]
    assert saved[0, 2 * W].tolist() == [0, 0, 0]


def test_semantic_layout_uses_dataset_meta_palette(
        visualizer: CDLocalVisualizer, tmp_path: Path) -> None:
    visualizer.dataset_meta = dict(
        classes=LANDSAT_CLASSES, palette=LANDSAT_PALETTE)
    img_a, img_b = dates(2)
    rng = np.random.default_rng(4)
    maps = {
        key: rng.integers(0, 5, (H, W), dtype=np.uint8)
        for key in ('pred_sem_seg_a', 'pred_sem_seg_b', 'gt_sem_seg_a',
                    'gt_sem_seg_b')
    }
    maps['gt_sem_seg_b'][0, 0] = 255
    out_file = tmp_path / 'scd.png'
    visualizer.add_datasample(
        'scd', (img_a, img_b), semantic_sample(maps), out_file=str(out_file))
    saved = read_rgb(out_file)
    # A | B | semantic A | semantic B | change error map, legend below
    assert saved.shape[1] == 5 * W and saved.shape[0] > H
    np.testing.assert_array_equal(saved[:H, :W], img_a)
    np.testing.assert_array_equal(saved[:H, W:2 * W], img_b)
    lut = np.array(LANDSAT_PALETTE, np.uint8)
    np.testing.assert_array_equal(saved[:H, 2 * W:3 * W],
                                  lut[maps['pred_sem_seg_a']])
    np.testing.assert_array_equal(saved[:H, 3 * W:4 * W],
                                  lut[maps['pred_sem_seg_b']])
    # error map counted independently: changed = a class in either date
    pred = (maps['pred_sem_seg_a'] > 0) | (maps['pred_sem_seg_b'] > 0)
    gt = (maps['gt_sem_seg_a'] > 0) | (maps['gt_sem_seg_b'] > 0)
    expected = np.zeros((H, W, 3), np.uint8)
    expected[pred & gt] = (255, 255, 0)
    expected[pred & ~gt] = (255, 0, 0)
    expected[~pred & gt] = (0, 255, 0)
    expected[0, 0] = (128, 128, 128)  # ignored label
    np.testing.assert_array_equal(saved[:H, 4 * W:], expected)
    # the legend shows every class colour (swatch interiors)
    legend = saved[H:].reshape(-1, 3)
    legend_colors = {tuple(c) for c in legend.tolist()}
    for color in LANDSAT_PALETTE[1:] + [[255, 255, 0], [255, 0, 0],
                                        [0, 255, 0]]:
        assert tuple(color) in legend_colors
    no_legend = visualizer.add_datasample(
        'scd', (img_a, img_b),
        semantic_sample(maps),
        draw_gt=False,
        out_file=str(tmp_path / 'no_gt.png'))
    assert no_legend.shape[1] == 5 * W
    # without labels the change map is white where change is predicted
    np.testing.assert_array_equal(no_legend[:H, 4 * W:][pred],
                                  np.full((int(pred.sum()), 3), 255))


def test_semantic_needs_a_matching_palette(
        visualizer: CDLocalVisualizer) -> None:
    img_a, img_b = dates()
    maps = {
        'pred_sem_seg_a': np.full((H, W), 4, np.uint8),
        'pred_sem_seg_b': np.zeros((H, W), np.uint8)
    }
    # The default (binary) palette has 2 colours: class 4 cannot be drawn.
    with pytest.raises(ValueError, match=r'scd_x.*date A prediction.*\[4\]'):
        visualizer.add_datasample('scd_x', (img_a, img_b),
                                  semantic_sample(maps))


def test_bad_images_and_sizes(visualizer: CDLocalVisualizer) -> None:
    img_a, img_b = dates()
    pred = np.zeros((H, W), np.uint8)
    with pytest.raises(ValueError, match='2C'):
        visualizer.add_datasample('x', img_a, binary_sample(pred, pred))
    with pytest.raises(ValueError, match='date B'):
        visualizer.add_datasample('x', (img_a, img_b[:-1]),
                                  binary_sample(pred, pred))
    small = np.zeros((H - 2, W), np.uint8)
    with pytest.raises(ValueError, match='name_y.*pred_sem_seg'):
        visualizer.add_datasample('name_y', (img_a, img_b),
                                  binary_sample(small, small))


def test_non_uint8_and_multiband_dates_are_displayable(
        visualizer: CDLocalVisualizer) -> None:
    rng = np.random.default_rng(5)
    stack = rng.random((H, W, 8)).astype(np.float32) * 3000  # 4 bands/date
    pred = np.zeros((H, W), np.uint8)
    drawn = visualizer.add_datasample(
        'ms', stack, binary_sample(pred, pred), out_file=None)
    date_a = stack[..., :3].astype(np.float64)
    expected = np.round(
        (date_a - date_a.min()) * 255 / (date_a.max() - date_a.min()))
    np.testing.assert_array_equal(drawn[:, :W], expected.astype(np.uint8))


def test_out_file_is_written_atomically(visualizer: CDLocalVisualizer,
                                        tmp_path: Path, monkeypatch) -> None:
    img_a, img_b = dates()
    pred = np.zeros((H, W), np.uint8)
    out_file = tmp_path / 'sub' / 'vis.png'
    drawn = visualizer.add_datasample(
        'v', (img_a, img_b), binary_sample(pred, pred),
        out_file=str(out_file))  # the folder is created
    before = out_file.read_bytes()

    def crash(fd: int) -> None:  # the bytes are written, the rename not yet
        raise KeyboardInterrupt

    monkeypatch.setattr(os, 'fsync', crash)
    pred[0, 0] = 1
    with pytest.raises(KeyboardInterrupt):
        visualizer.add_datasample(
            'v', (img_a, img_b),
            binary_sample(pred, pred),
            out_file=str(out_file))
    monkeypatch.undo()
    # the earlier image is untouched and no temporary file is left
    assert out_file.read_bytes() == before
    assert [p.name for p in out_file.parent.iterdir()] == ['vis.png']
    np.testing.assert_array_equal(read_rgb(out_file), drawn)
    # the format follows the suffix, as with cv2.imwrite
    visualizer.add_datasample(
        'v', (img_a, img_b),
        binary_sample(pred, pred),
        out_file=str(tmp_path / 'vis.jpg'))
    assert (tmp_path / 'vis.jpg').read_bytes()[:2] == b'\xff\xd8'
