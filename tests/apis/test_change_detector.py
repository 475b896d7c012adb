"""ChangeDetector: arrays and paths, SCD outputs, test_cfg, checkpoints."""
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from cd_stub_models import save_checkpoint, stub_config
from cd_testing import shrink_config
from mmengine.config import Config
from mmengine.logging import MessageHub

from mmcd_ext.apis import ChangeDetector, ChangeResult
from mmcd_ext.apis.change_detector import split_test_pipeline
from mmcd_ext.utils.checkpoint import CheckpointError

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASELINE = osp.join(ROOT, 'configs/baseline/baseline_r18_synthetic-256.py')


def planted_pair(h=40, w=52, seed=0):
    """Random date A; date B = A + 60 inside a rectangle: the change."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 190, (h, w, 3), dtype=np.uint8)
    b = a.copy()
    mask = np.zeros((h, w), np.uint8)
    mask[8:20, 10:31] = 1
    b[mask == 1] += 60
    return a, b, mask


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.fixture(scope='module')
def diff_detector():
    return ChangeDetector(stub_config('diff'))


def test_arrays_give_the_planted_change_and_its_probability(diff_detector):
    a, b, mask = planted_pair()
    result = diff_detector.predict(a, b, return_probs=True)
    assert isinstance(result, ChangeResult)
    assert result.change.dtype == np.uint8 and result.change.shape == (40, 52)
    np.testing.assert_array_equal(result.change, mask)
    d = np.abs(a.astype(np.float64) - b).sum(axis=2)
    np.testing.assert_allclose(
        result.change_prob, sigmoid(0.1 * (d - 30.0)), rtol=0, atol=1e-5)
    assert result.semantic_a is None and result.semantic_b is None
    # dict-style access
    assert result['change'] is result.change
    assert set(result.keys()) == {'change', 'change_prob'}
    assert diff_detector.predict(a, b).change_prob is None


def test_paths_match_arrays_and_name_the_files(diff_detector, tmp_path):
    a, b, mask = planted_pair()
    pa, pb = str(tmp_path / 'a.png'), str(tmp_path / 'b.png')
    mmcv.imwrite(a, pa)  # arrays are BGR like cv2, stored as such
    mmcv.imwrite(b, pb)
    result = diff_detector.predict(pa, pb, return_probs=True)
    np.testing.assert_array_equal(result.change, mask)
    ref = diff_detector.predict(a, b, return_probs=True)
    np.testing.assert_array_equal(result.change_prob, ref.change_prob)
    assert (result.img_path, result.img_path2) == (pa, pb)


def test_list_of_pairs_and_batching_match_single_pairs(diff_detector):
    pairs = [planted_pair(seed=s)[:2] for s in range(3)]
    small = planted_pair(h=24, w=30, seed=4)[:2]  # another size: own batch
    list_a = [p[0] for p in pairs] + [small[0]]
    list_b = [p[1] for p in pairs] + [small[1]]
    batched = diff_detector.predict(
        list_a, list_b, return_probs=True, batch_size=2)
    assert isinstance(batched, list) and len(batched) == 4
    for a, b, res in zip(list_a, list_b, batched):
        one = diff_detector.predict(a, b, return_probs=True)
        np.testing.assert_array_equal(res.change, one.change)
        np.testing.assert_allclose(res.change_prob, one.change_prob, atol=1e-6)


def test_channel_order_of_arrays(tmp_path):
    # the FCN model sees colours (bgr_to_rgb=True): order matters
    detector = ChangeDetector(stub_config('fcn', bgr_to_rgb=True))
    a, b, _ = planted_pair()
    pa, pb = str(tmp_path / 'a.png'), str(tmp_path / 'b.png')
    mmcv.imwrite(a, pa)
    mmcv.imwrite(b, pb)
    from_files = detector.predict(pa, pb, return_probs=True).change_prob
    bgr = detector.predict(a, b, return_probs=True).change_prob
    rgb = detector.predict(
        a[..., ::-1], b[..., ::-1], return_probs=True,
        channel_order='rgb').change_prob
    np.testing.assert_allclose(from_files, bgr, atol=1e-6)
    np.testing.assert_allclose(rgb, bgr, atol=1e-6)
    wrong = detector.predict(
        a[..., ::-1], b[..., ::-1], return_probs=True).change_prob
    assert np.abs(wrong - bgr).max() > 1e-3


def test_semantic_change_model_outputs():
    detector = ChangeDetector(stub_config('scd'))
    a, b, mask = planted_pair()
    result = detector.predict(a, b)
    np.testing.assert_array_equal(result.change, mask)
    exp_a = (1 + (a.astype(np.float64).mean(axis=2) > 127)) * mask
    exp_b = (3 + (b.astype(np.float64).mean(axis=2) > 127)) * mask
    assert result.semantic_a.dtype == np.uint8
    np.testing.assert_array_equal(result.semantic_a, exp_a)
    np.testing.assert_array_equal(result.semantic_b, exp_b)
    assert set(result.keys()) == {'change', 'semantic_a', 'semantic_b'}


def test_slide_test_cfg_is_used():
    slide = dict(mode='slide', crop_size=(32, 32), stride=(16, 16))
    detector = ChangeDetector(stub_config('fcn', test_cfg=slide))
    whole = ChangeDetector(stub_config('fcn'))
    whole.model.load_state_dict(detector.model.state_dict())
    a, b, _ = planted_pair(h=48, w=56)
    prob = detector.predict(a, b, return_probs=True).change_prob

    # independent sliding-window average over the windows mmseg defines:
    # rows 0, 16 (the last one moved to end at 48), columns 0, 16, 24
    x = torch.from_numpy(np.concatenate([a, b], axis=2)).permute(2, 0, 1)
    x = x[None].float()
    total = torch.zeros(1, 2, 48, 56)
    count = torch.zeros(1, 1, 48, 56)
    model = detector.model
    with torch.no_grad():
        for y0 in (0, 16):
            for x0 in (0, 16, 24):
                crop = x[:, :, y0:y0 + 32, x0:x0 + 32]
                feats = model.extract_feat(crop)
                logit = model.decode_head.forward(feats)
                total[:, :, y0:y0 + 32, x0:x0 + 32] += logit
                count[:, :, y0:y0 + 32, x0:x0 + 32] += 1
    expected = (total / count).softmax(dim=1)[0, 1].numpy()
    np.testing.assert_allclose(prob, expected, rtol=0, atol=1e-5)
    # and it is not the whole-image answer
    whole_prob = whole.predict(a, b, return_probs=True).change_prob
    assert np.abs(whole_prob - prob).max() > 1e-4


def test_real_config_pipeline_and_padding(tmp_path):
    # the baseline's own test pipeline (its label loader is dropped) and
    # data preprocessor (size_divisor 32: 50x70 is padded, then cropped)
    cfg = shrink_config(Config.fromfile(BASELINE))
    detector = ChangeDetector(cfg)
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (50, 70, 3), dtype=np.uint8)
    b = rng.integers(0, 255, (50, 70, 3), dtype=np.uint8)
    pa, pb = str(tmp_path / 'a.png'), str(tmp_path / 'b.png')
    mmcv.imwrite(a, pa)
    mmcv.imwrite(b, pb)
    result = detector.predict(pa, pb, return_probs=True)
    assert result.change.shape == (50, 70)
    assert set(np.unique(result.change)) <= {0, 1}
    assert 0.0 <= result.change_prob.min() <= result.change_prob.max() <= 1
    # change is the argmax, i.e. probability of change above one half
    np.testing.assert_array_equal(result.change, (result.change_prob
                                                  > 0.5).astype(np.uint8))
    assert detector.threshold == 0.5


def test_checkpoint_round_trip_with_runner_meta(tmp_path):
    cfg = stub_config('fcn')
    path = str(tmp_path / 'iter_1.pth')
    torch.manual_seed(123)
    save_checkpoint(
        cfg,
        path,
        dataset_meta=dict(
            classes=('unchanged', 'changed'),
            palette=[[0, 0, 0], [255, 255, 255]]))
    ckpt = torch.load(path, weights_only=True)
    # what mmengine's Runner adds besides weights
    hub = MessageHub.get_instance('test_change_detector_hub')
    hub.update_scalar('train/loss', 0.5)
    ckpt['meta'].update(seed=np.int64(7), message_hub=hub.state_dict())
    torch.save(ckpt, path)

    detector = ChangeDetector(cfg, path)
    for key, value in ckpt['state_dict'].items():
        torch.testing.assert_close(detector.model.state_dict()[key], value)
    assert detector.dataset_meta['classes'] == ('unchanged', 'changed')
    assert detector.palette == [[0, 0, 0], [255, 255, 255]]
    fresh = ChangeDetector(cfg)  # other random head weights
    a, b, _ = planted_pair()
    p1 = detector.predict(a, b, return_probs=True).change_prob
    p2 = fresh.predict(a, b, return_probs=True).change_prob
    assert np.abs(p1 - p2).max() > 1e-4


def test_checkpoint_errors(tmp_path):
    cfg = stub_config('fcn')
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        ChangeDetector(cfg, missing)
    with pytest.raises(ValueError, match='URL'):
        ChangeDetector(cfg, 'https://example.com/model.pth')

    path = str(tmp_path / 'ckpt.pth')
    save_checkpoint(cfg, path)
    ckpt = torch.load(path, weights_only=True)
    state = ckpt['state_dict']
    dropped = dict(state)
    dropped.pop('backbone.conv1.weight')
    torch.save(dict(state_dict=dropped), str(tmp_path / 'dropped.pth'))
    with pytest.raises(
            CheckpointError,
            match='dropped.pth does not fit.*1 missing key '
            r'\(backbone.conv1.weight\)'):
        ChangeDetector(cfg, str(tmp_path / 'dropped.pth'))

    reshaped = dict(state)
    reshaped['backbone.conv1.weight'] = torch.zeros(3, 3, 3, 3)
    torch.save(dict(state_dict=reshaped), str(tmp_path / 'shape.pth'))
    with pytest.raises(
            CheckpointError,
            match=r'backbone.conv1.weight: model \(8, 3, 3, 3\), '
            r'checkpoint \(3, 3, 3, 3\)'):
        ChangeDetector(cfg, str(tmp_path / 'shape.pth'))

    extra = dict(state)
    extra['neck.unknown'] = torch.zeros(1)
    torch.save(dict(state_dict=extra), str(tmp_path / 'extra.pth'))
    with pytest.raises(
            CheckpointError, match=r'1 unexpected key \(neck.unknown\)'):
        ChangeDetector(cfg, str(tmp_path / 'extra.pth'))


def test_bad_inputs_are_clear_errors(diff_detector, tmp_path):
    a, b, _ = planted_pair()
    with pytest.raises(ValueError, match='pair 0.*same shape'):
        diff_detector.predict(a, b[:30])
    with pytest.raises(TypeError, match='file paths or both as arrays'):
        diff_detector.predict(a, str(tmp_path / 'b.png'))
    with pytest.raises(FileNotFoundError, match='missing_a.png'):
        diff_detector.predict(
            str(tmp_path / 'missing_a.png'), str(tmp_path / 'missing_b.png'))
    with pytest.raises(ValueError, match='2 date-A images but 1'):
        diff_detector.predict([a, a], [b])
    with pytest.raises(TypeError, match='two lists'):
        diff_detector.predict([a], b)
    with pytest.raises(ValueError, match='needs 3'):
        diff_detector.predict(a[..., :2], b[..., :2], channel_order='rgb')
    with pytest.raises(ValueError, match='channel_order'):
        diff_detector.predict(a, b, channel_order='rbg')
    with pytest.raises(FileNotFoundError, match='config file'):
        ChangeDetector(str(tmp_path / 'missing_config.py'))
    with pytest.raises(RuntimeError, match='CUDA'):
        if torch.cuda.is_available():
            raise RuntimeError('CUDA present: nothing to check')
        ChangeDetector(stub_config('diff'), device='cuda')


def test_split_test_pipeline():
    loader, rest = split_test_pipeline([
        dict(type='LoadBitemporalImages'),
        dict(type='LoadCDAnnotations'),
        dict(type='PackCDInputs')
    ])
    assert loader['type'] == 'LoadBitemporalImages'
    assert [s['type'] for s in rest] == ['PackCDInputs']
    with pytest.raises(ValueError, match='TestTimeAug'):
        split_test_pipeline([
            dict(type='LoadBitemporalImages'),
            dict(type='TestTimeAug', transforms=[])
        ])
    with pytest.raises(ValueError, match='image loader'):
        split_test_pipeline([dict(type='PackCDInputs')])


def test_arrays_the_model_would_misread_are_refused(diff_detector):
    a, b, _ = planted_pair()
    cases = [
        (a > 100, b, 'date-A array is boolean'),
        (a, b.astype(np.float32) / 255, r'date-B array is float in \[0, 1\]'),
        (a, np.where(b > 200, np.nan,
                     b.astype(np.float32)), 'date-B array has .* NaN/inf'),
        (np.full(a.shape, np.inf, np.float32), b.astype(np.float32),
         'date-A array has 6240 NaN/inf'),
    ]
    for img_a, img_b, message in cases:
        with pytest.raises(ValueError, match='pair 0: the ' + message):
            diff_detector.predict(img_a, img_b)
    # float data in 0..255 is the images themselves: accepted, same result
    as_float = diff_detector.predict(
        a.astype(np.float32), b.astype(np.float32))
    np.testing.assert_array_equal(as_float.change,
                                  diff_detector.predict(a, b).change)
