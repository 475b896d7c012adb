"""Test-only models whose predictions are known, and configs that use them.

Importing this module registers, in mmcd_ext's ``MODELS``:

* ``CDStubIdentityBackbone``: returns its input as the only level, so a
  ``SiamEncoderDecoder`` without a neck hands the head both dates
  concatenated, ``(B, 2C, H, W)``.
* ``CDStubDifferenceHead``: per pixel ``d = sum_c |A_c - B_c|``; logits
  ``(0, gain * (d - diff_threshold))``, so ``P(change) =
  sigmoid(gain * (d - diff_threshold))``: change exactly where the dates
  differ by more than the threshold. Purely per pixel, so tiles and
  whole-image inference must agree exactly.
* ``CDStubConvBackbone``: two 3x3 convolutions (stride 1, zero padding,
  seeded random weights): a fully convolutional model with a receptive field
  of a few pixels.
* ``CDStubSCDSegmentor``: a ``SiamEncoderDecoder`` that also predicts the
  semantic change maps: class 1 + (mean of date A > 127) for date A and
  3 + (mean of date B > 127) for date B where change is predicted, 0
  elsewhere.

The CLI tests run ``tools/infer.py`` in-process or as a subprocess with
this folder on ``PYTHONPATH`` and ``custom_imports`` naming this module.
"""
import os.path as osp
from typing import List, Optional

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.model import BaseModule
from mmengine.structures import PixelData
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import Tensor

from mmcd_ext.models.segmentors import SiamEncoderDecoder
from mmcd_ext.registry import MODELS

HERE = osp.dirname(osp.abspath(__file__))


@MODELS.register_module()
class CDStubIdentityBackbone(BaseModule):
    """Return the input as a one-level feature list."""

    def forward(self, x: Tensor) -> List[Tensor]:
        return [x]


@MODELS.register_module()
class CDStubConvBackbone(BaseModule):
    """Two seeded 3x3 convolutions with ReLU, stride 1."""

    def __init__(self,
                 in_channels: int = 3,
                 channels: int = 8,
                 seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.conv1 = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        with torch.no_grad():
            for conv in (self.conv1, self.conv2):
                conv.weight.copy_(
                    torch.randn(conv.weight.shape, generator=gen) * 0.3)
                conv.bias.copy_(torch.randn(conv.bias.shape, generator=gen))

    def forward(self, x: Tensor) -> List[Tensor]:
        return [torch.relu(self.conv2(torch.relu(self.conv1(x))))]


@MODELS.register_module()
class CDStubDifferenceHead(BaseDecodeHead):
    """Logits ``(0, gain * (sum_c |A_c - B_c| - diff_threshold))``."""

    def __init__(self,
                 diff_threshold: float = 30.0,
                 gain: float = 0.1,
                 **kwargs) -> None:
        kwargs.setdefault('channels', 1)
        kwargs.setdefault('num_classes', 2)
        super().__init__(**kwargs)
        self.diff_threshold = diff_threshold
        self.gain = gain

    def forward(self, inputs: List[Tensor]) -> Tensor:
        x = inputs[0]
        half = x.shape[1] // 2
        d = (x[:, :half] - x[:, half:]).abs().sum(dim=1, keepdim=True)
        logit = self.gain * (d - self.diff_threshold)
        return torch.cat([torch.zeros_like(logit), logit], dim=1)


@MODELS.register_module()
class CDStubSCDSegmentor(SiamEncoderDecoder):
    """Adds ``pred_sem_seg_a`` / ``pred_sem_seg_b`` from the input means."""

    semantic_change = True

    def predict(self, inputs: Tensor, data_samples=None):
        samples = super().predict(inputs, data_samples)
        half = inputs.shape[1] // 2
        for i, sample in enumerate(samples):
            h, w = sample.pred_sem_seg.data.shape[-2:]
            change = sample.pred_sem_seg.data.long()
            mean_a = inputs[i, :half, :h, :w].mean(dim=0, keepdim=True)
            mean_b = inputs[i, half:, :h, :w].mean(dim=0, keepdim=True)
            sem_a = (1 + (mean_a > 127).long()) * change
            sem_b = (3 + (mean_b > 127).long()) * change
            sample.set_data(
                dict(
                    pred_sem_seg_a=PixelData(data=sem_a),
                    pred_sem_seg_b=PixelData(data=sem_b)))
        return samples


def stub_config(kind: str = 'diff',
                test_cfg: Optional[dict] = None,
                bgr_to_rgb: bool = False,
                channels: int = 3) -> Config:
    """A config around the stub models.

    Args:
        kind (str): ``'diff'`` (difference head), ``'fcn'`` (conv backbone
            + mmseg FCNHead) or ``'scd'`` (difference head in the SCD
            segmentor). Defaults to 'diff'.
        test_cfg (dict, optional): The model's test_cfg. Defaults to None
            (whole).
        bgr_to_rgb (bool): Data preprocessor colour swap. Defaults to False.
        channels (int): Channels per date. Defaults to 3.

    Returns:
        Config: The config (mean 0 / std 1 normalisation).
    """
    head = dict(type='CDStubDifferenceHead', in_channels=2 * channels)
    backbone = dict(type='CDStubIdentityBackbone')
    model_type = 'SiamEncoderDecoder'
    if kind == 'fcn':
        backbone = dict(type='CDStubConvBackbone', in_channels=channels)
        head = dict(
            type='mmseg.FCNHead',
            in_channels=16,
            channels=8,
            num_convs=1,
            kernel_size=3,
            concat_input=False,
            dropout_ratio=0.0,
            num_classes=2)
    elif kind == 'scd':
        model_type = 'CDStubSCDSegmentor'
    elif kind != 'diff':
        raise ValueError(kind)
    return Config(
        dict(
            default_scope='mmcd_ext',
            custom_imports=dict(
                imports=['mmcd_ext', 'cd_stub_models'],
                allow_failed_imports=False),
            model=dict(
                type=model_type,
                data_preprocessor=dict(
                    type='DualInputSegDataPreProcessor',
                    mean=[0.0] * channels,
                    std=[1.0] * channels,
                    bgr_to_rgb=bgr_to_rgb),
                backbone=backbone,
                decode_head=head,
                test_cfg=test_cfg or dict(mode='whole')),
            test_dataloader=dict(
                dataset=dict(pipeline=[
                    dict(type='LoadBitemporalImages'),
                    dict(type='LoadCDAnnotations'),
                    dict(type='PackCDInputs'),
                ]))))


def save_checkpoint(cfg: Config,
                    path: str,
                    dataset_meta: Optional[dict] = None) -> None:
    """Build the model of ``cfg`` and save its weights as a Runner would."""
    model = MODELS.build(cfg.model)
    meta = dict(iter=1)
    if dataset_meta is not None:
        meta['dataset_meta'] = dataset_meta
    torch.save(dict(state_dict=model.state_dict(), meta=meta), path)
