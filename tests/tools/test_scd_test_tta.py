"""tools/test.py --tta and --show-dir with a (tiny, untrained) LSAFNet."""
import glob
import json
import os
import os.path as osp
import sys

import cv2
import pytest
import torch
from cd_testing import run_tool, shrink_config
from mmengine.config import Config

from mmcd_ext.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'lsafnet',
                  'lsafnet_r34_synthetic-second-128.py')


@pytest.mark.slow
def test_scd_tta_and_show_dir(tmp_path, tiny_second_root):
    cfg = shrink_config(
        Config.fromfile(CONFIG),
        data_root=tiny_second_root,
        work_dir=str(tmp_path / 'work'))
    cfg_path = str(tmp_path / 'cfg.py')
    cfg.dump(cfg_path)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    ckpt = str(tmp_path / 'scd.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(iter=0)), ckpt)
    plain = run_tool([
        sys.executable, 'tools/test.py', cfg_path, ckpt, '--work-dir',
        str(tmp_path / 'plain'), '--show-dir',
        str(tmp_path / 'show')
    ], ROOT)
    tta = run_tool([
        sys.executable, 'tools/test.py', cfg_path, ckpt, '--tta', '--work-dir',
        str(tmp_path / 'tta')
    ], ROOT)
    assert 'with test-time augmentation' in tta.stdout + tta.stderr
    for work in ('plain', 'tta'):
        files = glob.glob(str(tmp_path / work / '*' / '*.json'))
        assert len(files) == 1, plain.stderr[-2000:]
        with open(files[0]) as f:
            metrics = json.load(f)
        assert 'SeK' in metrics and 0.0 <= metrics['mIoU'] <= 100.0
    shown = sorted(os.listdir(tmp_path / 'show'))
    assert shown == sorted(
        os.listdir(osp.join(tiny_second_root, 'test', 'im1')))
    img = cv2.imread(str(tmp_path / 'show' / shown[0]))
    h, w = cv2.imread(osp.join(tiny_second_root, 'test', 'im1',
                               shown[0])).shape[:2]
    # A | B | semantic A | semantic B | change error map, legend below
    assert img.shape[1] == 5 * w and img.shape[0] > h
