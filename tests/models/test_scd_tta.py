"""SCDTTAModel: each branch of stacked SCD logits merged on its own."""
import os.path as osp

import mmcv
import numpy as np
import torch
from cd_stub_models import stub_classes, stub_config
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmcd_ext.registry import MODELS, TRANSFORMS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: Identity, horizontal and vertical flips (one RandomFlip per branch: a
#: second RandomFlip would overwrite the first one's flip metainfo).
FLIP_TTA = [
    dict(type='LoadBitemporalImages'),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='RandomFlip', prob=0.0, direction='horizontal'),
                dict(type='RandomFlip', prob=1.0, direction='horizontal'),
                dict(type='RandomFlip', prob=1.0, direction='vertical')
            ],
            [dict(type='PackCDInputs')],
        ]),
]
PLAIN = [dict(type='LoadBitemporalImages'), dict(type='PackCDInputs')]


def pair_files(tmp_path, h=29, w=41, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    b = a.copy()
    b[4:17, 6:30] = 255 - b[4:17, 6:30]
    pa, pb = str(tmp_path / 'a.png'), str(tmp_path / 'b.png')
    mmcv.imwrite(a, pa)
    mmcv.imwrite(b, pb)
    return pa, pb, a, b


def run(model, pipeline, pa, pb):
    data = Compose([TRANSFORMS.build(t) for t in pipeline])(
        dict(img_path=pa, img_path2=pb))
    with torch.no_grad():
        return model.test_step(pseudo_collate([data]))


def test_tta_of_a_flip_equivariant_stub_equals_the_plain_prediction(tmp_path):
    model = MODELS.build(stub_config('scd_head').model).eval()
    tta = MODELS.build(dict(type='SCDTTAModel', module=model)).eval()
    pa, pb, a, b = pair_files(tmp_path)
    plain = run(model, PLAIN, pa, pb)[0]
    merged = run(tta, FLIP_TTA, pa, pb)
    assert len(merged) == 1
    merged = merged[0]
    change = (np.abs(a.astype(np.int64) - b).sum(axis=2) > 30).astype(int)
    for key, expected in (('pred_sem_seg', change),
                          ('pred_sem_seg_a', stub_classes(a, 5) * change),
                          ('pred_sem_seg_b', stub_classes(b, 5) * change)):
        np.testing.assert_array_equal(
            merged.get(key).data[0].numpy(), expected)
        np.testing.assert_array_equal(
            merged.get(key).data.numpy(),
            plain.get(key).data.numpy())


def test_merge_is_the_mean_probability_of_each_branch():
    model = MODELS.build(stub_config('scd_head', num_classes=4).model)
    tta = MODELS.build(dict(type='SCDTTAModel', module=model))
    gen = torch.Generator().manual_seed(0)
    logits = [torch.randn(7, 5, 6, generator=gen) * 3 for _ in range(3)]
    samples = []
    for x in logits:
        sample = SegDataSample()
        sample.seg_logits = PixelData(data=x)
        samples.append(sample)
    out = tta.merge_preds([samples])[0]
    stack = torch.stack(logits).double()
    p_a = stack[:, 0:3].softmax(dim=1).mean(dim=0)
    p_b = stack[:, 3:6].softmax(dim=1).mean(dim=0)
    p_c = stack[:, 6:7].sigmoid().mean(dim=0)
    change = (p_c > 0.5).long()
    assert change.sum() > 0 and (1 - change).sum() > 0
    torch.testing.assert_close(out.pred_sem_seg.data, change)
    torch.testing.assert_close(out.pred_sem_seg_a.data,
                               (p_a.argmax(dim=0, keepdim=True) + 1) * change)
    torch.testing.assert_close(out.pred_sem_seg_b.data,
                               (p_b.argmax(dim=0, keepdim=True) + 1) * change)
    # stored logits map back to the merged probabilities
    x_c = out.seg_logits.data[6:7].double()
    torch.testing.assert_close(x_c.sigmoid(), p_c, rtol=0, atol=1e-5)
    torch.testing.assert_close(
        out.seg_logits.data[0:3].double().softmax(dim=0),
        p_a,
        rtol=0,
        atol=1e-5)


def test_lsafnet_configs_use_the_scd_tta_model_and_a_flip_pipeline():
    for name in ('lsafnet_r34_second.py', 'lsafnet_r34_landsat.py',
                 'lsafnet_r34_synthetic-second-128.py'):
        cfg = Config.fromfile(osp.join(ROOT, 'configs', 'lsafnet', name))
        assert cfg.tta_model.type == 'SCDTTAModel'
        aug = cfg.tta_pipeline[1]
        assert aug.type == 'TestTimeAug'
        flips = [t for t in aug.transforms[0] if t.type == 'RandomFlip']
        assert sorted(t.prob for t in flips) == [0.0, 1.0]
        assert [t.type for t in aug.transforms[1]] == ['LoadSCDAnnotations']


def test_test_tool_refuses_seg_tta_model_for_scd_models():
    import importlib.util

    import pytest
    spec = importlib.util.spec_from_file_location(
        'test_tool_scd', osp.join(ROOT, 'tools', 'test.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', 'lsafnet', 'lsafnet_r34_second.py'))
    tool.check_tta_model(cfg)  # SCDTTAModel: fine
    cfg.tta_model = dict(type='SegTTAModel')
    with pytest.raises(ValueError, match='SCDTTAModel'):
        tool.check_tta_model(cfg)
