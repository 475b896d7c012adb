"""DualInputSegDataPreProcessor: formula checks, mmseg reference, inference."""
import copy

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.structures import PixelData
from mmseg.models import EncoderDecoder
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.structures import SegDataSample

from mmcd_ext.models.data_preprocessor import DualInputSegDataPreProcessor
from mmcd_ext.registry import MODELS

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]


def _batch(sizes, scd=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for h, w in sizes:
        inputs.append(
            torch.randint(0, 256, (6, h, w), generator=g, dtype=torch.uint8))
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, 2, (1, h, w), generator=g))
        if scd:
            sample.set_data(
                dict(
                    gt_sem_seg_a=PixelData(
                        data=torch.randint(0, 7, (1, h, w), generator=g)),
                    gt_sem_seg_b=PixelData(
                        data=torch.randint(0, 7, (1, h, w), generator=g))))
        sample.set_metainfo(dict(ori_shape=(h, w), img_shape=(h, w)))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def test_registered():
    assert MODELS.get('DualInputSegDataPreProcessor') is \
        DualInputSegDataPreProcessor


@pytest.mark.parametrize('per_date', [False, True])
def test_normalisation_formula(per_date):
    data = _batch([(8, 10)])
    if per_date:
        mean, std = MEAN + [10., 20., 30.], STD + [2., 4., 8.]
    else:
        mean, std = MEAN, STD
    pre = DualInputSegDataPreProcessor(mean=mean, std=std)
    out = pre(copy.deepcopy(data))['inputs']
    x = data['inputs'][0].double()
    full_mean = mean if per_date else mean * 2
    full_std = std if per_date else std * 2
    for c in range(6):
        expected = (x[c] - full_mean[c]) / full_std[c]
        torch.testing.assert_close(out[0, c].double(), expected)
    assert out.dtype == torch.float32 and out.shape == (1, 6, 8, 10)


def test_bgr_to_rgb_per_date():
    data = _batch([(4, 4)])
    pre = DualInputSegDataPreProcessor(mean=MEAN, std=STD, bgr_to_rgb=True)
    out = pre(copy.deepcopy(data))['inputs'][0]
    x = data['inputs'][0].float()
    # channel c of the output comes from BGR channel 2 - c of the same date
    for date in (0, 3):
        for c in range(3):
            expected = (x[date + 2 - c] - MEAN[c]) / STD[c]
            torch.testing.assert_close(out[date + c], expected)


def test_training_pads_images_and_every_label():
    data = _batch([(20, 28), (24, 18)])
    pre = DualInputSegDataPreProcessor(
        mean=MEAN, std=STD, size_divisor=16, pad_val=-7, seg_pad_val=255)
    out = pre(copy.deepcopy(data), training=True)
    inputs = out['inputs']
    assert inputs.shape == (2, 6, 32, 32)
    for i, (img, src) in enumerate(zip(inputs, data['inputs'])):
        h, w = src.shape[1:]
        normed = (src.float() - torch.tensor(MEAN * 2).view(6, 1, 1)) / \
            torch.tensor(STD * 2).view(6, 1, 1)
        torch.testing.assert_close(img[:, :h, :w], normed)
        assert torch.all(img[:, h:, :] == -7) and torch.all(img[:, :,
                                                                w:] == -7)
        sample = out['data_samples'][i]
        for field in ('gt_sem_seg', 'gt_sem_seg_a', 'gt_sem_seg_b'):
            lab = sample.get(field).data
            assert lab.shape == (1, 32, 32)
            assert torch.equal(lab[:, :h, :w],
                               data['data_samples'][i].get(field).data)
            assert torch.all(lab[:, h:, :] == 255)
            assert torch.all(lab[:, :, w:] == 255)
        assert tuple(sample.img_shape) == (h, w)
        assert tuple(sample.pad_shape) == (32, 32)
        assert sample.padding_size == [0, 32 - w, 0, 32 - h]
        assert tuple(sample.batch_input_shape) == (32, 32)


def test_fixed_size_and_equal_sizes_without_padding():
    pre = DualInputSegDataPreProcessor(size=(40, 36))
    out = pre(_batch([(20, 28), (24, 18)], scd=False), training=True)
    assert out['inputs'].shape == (2, 6, 40, 36)
    assert out['data_samples'][1].gt_sem_seg.shape == (40, 36)
    out = DualInputSegDataPreProcessor()(
        _batch([(8, 8), (8, 8)]), training=True)
    assert out['inputs'].shape == (2, 6, 8, 8)
    assert out['data_samples'][0].padding_size == [0, 0, 0, 0]


@pytest.mark.parametrize('training', [True, False])
def test_matches_mmseg_preprocessor_on_the_binary_case(training):
    """With 2C mean/std and no colour swap, mmseg's preprocessor is a
    reference for the image and ``gt_sem_seg``."""
    sizes = [(20, 28), (20, 28)] if not training else [(20, 28), (24, 18)]
    data = _batch(sizes, scd=False)
    kwargs = dict(
        mean=MEAN * 2,
        std=STD * 2,
        size_divisor=16,
        pad_val=3,
        seg_pad_val=255)
    test_cfg = None if training else dict(size_divisor=32)
    ours = DualInputSegDataPreProcessor(
        **kwargs, test_cfg=test_cfg)(
            copy.deepcopy(data), training=training)
    ref = SegDataPreProcessor(
        **kwargs, test_cfg=test_cfg)(
            copy.deepcopy(data), training=training)
    torch.testing.assert_close(ours['inputs'], ref['inputs'])
    keys = (('img_shape', 'pad_shape', 'padding_size') if training else
            ('img_padding_size', 'pad_shape'))
    for s_ours, s_ref in zip(ours['data_samples'], ref['data_samples']):
        assert torch.equal(s_ours.gt_sem_seg.data, s_ref.gt_sem_seg.data)
        for key in keys:
            assert tuple(s_ours.metainfo[key]) == tuple(s_ref.metainfo[key])


def test_test_mode_leaves_labels_unpadded():
    data = _batch([(20, 28), (20, 28)])
    pre = DualInputSegDataPreProcessor(test_cfg=dict(size_divisor=32))
    out = pre(copy.deepcopy(data), training=False)
    assert out['inputs'].shape == (2, 6, 32, 32)
    sample = out['data_samples'][0]
    assert sample.gt_sem_seg_a.shape == (20, 28)
    assert sample.img_padding_size == [0, 4, 0, 12]
    assert tuple(sample.batch_input_shape) == (32, 32)


def test_errors():
    with pytest.raises(ValueError, match='mean and std'):
        DualInputSegDataPreProcessor(mean=MEAN)
    with pytest.raises(ValueError, match='same'):
        DualInputSegDataPreProcessor(mean=MEAN, std=STD[:2])
    with pytest.raises(ValueError, match='positive'):
        DualInputSegDataPreProcessor(mean=MEAN, std=[1, 0, 1])
    with pytest.raises(ValueError, match='both'):
        DualInputSegDataPreProcessor(bgr_to_rgb=True, rgb_to_bgr=True)
    with pytest.raises(ValueError, match='not both'):
        DualInputSegDataPreProcessor(size=(8, 8), size_divisor=8)
    with pytest.raises(ValueError, match='test_cfg'):
        DualInputSegDataPreProcessor(test_cfg=dict(mode='slide'))
    data = _batch([(8, 8)])
    with pytest.raises(ValueError, match='4 values'):
        DualInputSegDataPreProcessor(mean=[0] * 4, std=[1] * 4)(data)
    data['inputs'] = [torch.zeros(5, 8, 8)]
    with pytest.raises(ValueError, match='2C'):
        DualInputSegDataPreProcessor()(data)
    data['inputs'] = [torch.zeros(8, 8, 8)]
    with pytest.raises(ValueError, match='3 channels per date'):
        DualInputSegDataPreProcessor(bgr_to_rgb=True)(data)
    with pytest.raises(ValueError, match='different sizes'):
        DualInputSegDataPreProcessor()(
            _batch([(8, 8), (8, 10)]), training=True)
    with pytest.raises(ValueError, match='one size'):
        DualInputSegDataPreProcessor()(_batch([(8, 8), (8, 10)]))


def _tiny_encoder_decoder(preprocessor, test_cfg):
    norm = dict(type='BN', requires_grad=True)
    torch.manual_seed(0)
    model = EncoderDecoder(
        data_preprocessor=preprocessor,
        backbone=dict(
            type='ResNetV1c',
            depth=18,
            in_channels=6,
            stem_channels=8,
            base_channels=8,
            out_indices=(3, ),
            norm_cfg=norm),
        decode_head=dict(
            type='FCNHead',
            in_channels=64,
            channels=8,
            num_convs=1,
            num_classes=2,
            out_channels=2,
            norm_cfg=norm,
            in_index=0,
            loss_decode=dict(type='CrossEntropyLoss')),
        test_cfg=ConfigDict(test_cfg))
    return model.eval()


@pytest.mark.parametrize('test_cfg', [
    dict(mode='whole'),
    dict(mode='slide', crop_size=(32, 32), stride=(16, 16)),
])
def test_encoder_decoder_inference(test_cfg):
    """mmseg's EncoderDecoder removes our padding exactly as it removes
    SegDataPreProcessor's (the reference) and predicts at ori_shape."""
    data = _batch([(40, 44), (40, 44)], scd=False, seed=3)
    kwargs = dict(mean=MEAN * 2, std=STD * 2, test_cfg=dict(size_divisor=32))
    ours = _tiny_encoder_decoder(
        DualInputSegDataPreProcessor(**kwargs), test_cfg)
    ref = _tiny_encoder_decoder(SegDataPreProcessor(**kwargs), test_cfg)
    ref.load_state_dict(ours.state_dict())
    with torch.no_grad():
        out = ours.test_step(copy.deepcopy(data))
        expected = ref.test_step(copy.deepcopy(data))
    for o, e in zip(out, expected):
        assert o.pred_sem_seg.shape == (40, 44)
        assert o.seg_logits.shape == (40, 44)
        torch.testing.assert_close(o.seg_logits.data, e.seg_logits.data)
        assert torch.equal(o.pred_sem_seg.data, e.pred_sem_seg.data)
