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
* ``CDStubSCDHead``: a semantic change head for mmcd_ext's
  ``SCDSiamEncoderDecoder`` (stacked logits ``cat([X_A, X_B, X_C])`` as
  ``SCDTripleBranchHead`` gives): ``X_C = gain * (d - diff_threshold)`` as
  above and ``X_t = 10 * one_hot(stub_classes(date t) - 1)``, see
  :func:`stub_classes`. Per pixel, so tiling, flips and whole-image
  inference agree exactly.

The CLI tests run ``tools/infer.py`` in-process or as a subprocess with
this folder on ``PYTHONPATH`` and ``custom_imports`` naming this module.
"""
import os.path as osp
from typing import List, Optional

import numpy as np
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


def stub_classes(img: np.ndarray, num_classes: int) -> np.ndarray:
    """Class (1..K-1) that ``CDStubSCDHead`` gives a date's pixels.

    ``1 + min(floor(mean_c(img) * (K - 1) / 256), K - 2)``: the channel
    mean split into ``K - 1`` equal ranges.

    Args:
        img (np.ndarray): ``(H, W, C)`` image as the model sees it.
        num_classes (int): ``K``, with class 0 "no change".

    Returns:
        np.ndarray: ``(H, W)`` int64.
    """
    mean = img.astype(np.float32).mean(axis=2)
    idx = np.floor(mean * (num_classes - 1) / 256).astype(np.int64)
    return 1 + np.minimum(idx, num_classes - 2)


@MODELS.register_module()
class CDStubSCDHead(BaseDecodeHead):
    """Known stacked semantic change logits (see the module docstring)."""

    def __init__(self,
                 num_classes: int = 5,
                 diff_threshold: float = 30.0,
                 gain: float = 0.1,
                 change_threshold: float = 0.5,
                 **kwargs) -> None:
        kwargs.setdefault('channels', 1)
        super().__init__(num_classes=num_classes, **kwargs)
        self.num_semantic = num_classes - 1
        self.out_channels = 2 * self.num_semantic + 1
        self.diff_threshold = diff_threshold
        self.gain = gain
        self.change_threshold = change_threshold

    def _semantic(self, img: Tensor) -> Tensor:
        k = self.num_semantic
        mean = img.float().mean(dim=1)
        idx = torch.floor(mean * k / 256).long().clamp(0, k - 1)
        return 10.0 * nn.functional.one_hot(idx, k).permute(0, 3, 1, 2).float()

    def forward(self, inputs: List[Tensor]) -> Tensor:
        x = inputs[0]  # (2B, C, H, W), date A first
        batch = x.shape[0] // 2
        img_a, img_b = x[:batch], x[batch:]
        d = (img_a - img_b).abs().sum(dim=1, keepdim=True)
        x_c = self.gain * (d - self.diff_threshold)
        return torch.cat([self._semantic(img_a),
                          self._semantic(img_b), x_c],
                         dim=1)

    def split_logits(self, stacked: Tensor):
        k = self.num_semantic
        return (stacked.narrow(-3, 0, k), stacked.narrow(-3, k, k),
                stacked.narrow(-3, 2 * k, 1))


def stub_config(kind: str = 'diff',
                test_cfg: Optional[dict] = None,
                bgr_to_rgb: bool = False,
                channels: int = 3,
                num_classes: int = 5,
                dataset_type: Optional[str] = None) -> Config:
    """A config around the stub models.

    Args:
        kind (str): ``'diff'`` (difference head), ``'fcn'`` (conv backbone
            + mmseg FCNHead), ``'scd'`` (difference head in the stub SCD
            segmentor) or ``'scd_head'`` (``CDStubSCDHead`` in mmcd_ext's
            ``SCDSiamEncoderDecoder``). Defaults to 'diff'.
        test_cfg (dict, optional): The model's test_cfg. Defaults to None
            (whole).
        bgr_to_rgb (bool): Data preprocessor colour swap. Defaults to False.
        channels (int): Channels per date. Defaults to 3.
        num_classes (int): ``K`` of ``'scd_head'``. Defaults to 5.
        dataset_type (str, optional): ``type`` of the test dataset (class
            names and palette come from its ``METAINFO``). Defaults to None.

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
    elif kind == 'scd_head':
        model_type = 'SCDSiamEncoderDecoder'
        head = dict(
            type='CDStubSCDHead',
            in_channels=channels,
            num_classes=num_classes)
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
                dataset=dict(
                    **({} if dataset_type is None else dict(
                        type=dataset_type)),
                    pipeline=[
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
