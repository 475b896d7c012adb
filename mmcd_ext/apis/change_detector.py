"""Python inference API: ``ChangeDetector(config, checkpoint).predict(a, b)``.

The detector builds the model of a config and loads a local checkpoint with
:func:`mmcd_ext.apis.init_model`, and preprocesses pairs exactly as the
config's test pipeline does: the pipeline's loader reads files (so colour
order and decoding match training), annotation loaders are dropped, the
remaining transforms run as configured, and the model's data preprocessor
normalises and pads. The model's ``test_cfg`` (``whole`` or ``slide``) is
used as it is.
"""
import copy
import logging
import os
from dataclasses import dataclass, fields
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.logging import print_log

from mmcd_ext.registry import TRANSFORMS
from .inference import check_device, init_model

ImageLike = Union[str, os.PathLike, np.ndarray]
PairInput = Union[ImageLike, Sequence[ImageLike]]

#: Used when a config has no test pipeline at all.
DEFAULT_TEST_PIPELINE = [
    dict(type='LoadBitemporalImages'),
    dict(type='PackCDInputs'),
]


@dataclass
class ChangeResult:
    """Prediction for one image pair (dict-style access works too).

    Args:
        change (np.ndarray): ``(H, W)`` uint8, 1 changed, 0 unchanged.
        change_prob (np.ndarray, optional): ``(H, W)`` float32 probability of
            change (softmax of class 1, or the sigmoid of a one-channel
            model). Defaults to None (not requested).
        semantic_a (np.ndarray, optional): ``(H, W)`` uint8 semantic change
            map of date A (class index where changed, 0 elsewhere); only for
            semantic change models. Defaults to None.
        semantic_b (np.ndarray, optional): Same for date B. Defaults to None.
        semantic_prob_a (np.ndarray, optional): ``(K, H, W)`` float32
            probability of each class index of ``semantic_a`` (``K`` =
            number of classes, index 0 "no change"): channel 0 is ``1 -
            P(change)``, channel ``k >= 1`` is ``P(change) * P(class k |
            date A)``; the channels sum to 1. Only for semantic change
            models whose head gives stacked logits (``split_logits``), on
            request. Defaults to None.
        semantic_prob_b (np.ndarray, optional): Same for date B.
            Defaults to None.
        img_path (str, optional): Date-A file when read from disk.
            Defaults to None.
        img_path2 (str, optional): Date-B file. Defaults to None.
    """
    change: np.ndarray
    change_prob: Optional[np.ndarray] = None
    semantic_a: Optional[np.ndarray] = None
    semantic_b: Optional[np.ndarray] = None
    semantic_prob_a: Optional[np.ndarray] = None
    semantic_prob_b: Optional[np.ndarray] = None
    img_path: Optional[str] = None
    img_path2: Optional[str] = None

    def keys(self) -> List[str]:
        """Names of the fields that are set (not None)."""
        return [
            f.name for f in fields(self) if getattr(self, f.name) is not None
        ]

    def __getitem__(self, key: str) -> Any:
        if key not in {f.name for f in fields(self)}:
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def to_dict(self) -> Dict[str, Any]:
        """The fields that are set, as a plain dict."""
        return {key: getattr(self, key) for key in self.keys()}


def _config_test_pipeline(cfg: Config) -> Tuple[List[dict], str]:
    """The config's test pipeline and where it was found."""
    for loader in ('test_dataloader', 'val_dataloader'):
        dataset = (cfg.get(loader) or {}).get('dataset') or {}
        if dataset.get('pipeline'):
            return copy.deepcopy(list(dataset['pipeline'])), \
                f'{loader}.dataset.pipeline'
    if cfg.get('test_pipeline'):
        return copy.deepcopy(list(cfg.test_pipeline)), 'test_pipeline'
    print_log(
        'the config has no test pipeline (test_dataloader.dataset.pipeline '
        'or test_pipeline); using LoadBitemporalImages + PackCDInputs',
        logger='current',
        level=logging.WARNING)
    return copy.deepcopy(DEFAULT_TEST_PIPELINE), 'default'


def config_dataset_meta(cfg: Config) -> Optional[dict]:
    """Class names and palette of the config's dataset, if it names them.

    The first of the test, val and train datasets whose class (its
    ``METAINFO``) or ``metainfo`` override gives ``classes`` is used.

    Args:
        cfg (Config): A model config.

    Returns:
        dict | None: ``dict(classes=..., palette=...)`` (palette may be
        missing), or None.
    """
    from mmcd_ext.registry import DATASETS
    for loader in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        dataset = (cfg.get(loader) or {}).get('dataset') or {}
        meta: dict = {}
        kind = dataset.get('type')
        if kind is not None:
            try:
                cls = DATASETS.get(kind) if isinstance(kind, str) else kind
            except Exception:  # an unknown type is the dataset's problem
                cls = None
            meta.update(copy.deepcopy(getattr(cls, 'METAINFO', None) or {}))
        meta.update(copy.deepcopy(dict(dataset.get('metainfo') or {})))
        if meta.get('classes'):
            return meta
    return None


def default_palette(num_classes: int) -> List[List[int]]:
    """Distinct RGB colours for class indices without a dataset palette.

    Index 0 ("no change") is white; the others come from a fixed list of
    well-separated colours, then from a seeded random generator.

    Args:
        num_classes (int): Number of class indices.

    Returns:
        list[list[int]]: ``num_classes`` RGB colours.
    """
    base = [[255, 255, 255], [0, 0, 255], [128, 128, 128], [0, 128, 0],
            [0, 255, 0], [128, 0, 0], [255, 0, 0], [255, 255, 0],
            [0, 255, 255], [255, 0, 255], [128, 0, 128], [255, 128, 0]]
    rng = np.random.default_rng(0)
    while len(base) < num_classes:
        base.append([int(v) for v in rng.integers(0, 256, 3)])
    return [list(c) for c in base[:num_classes]]


def split_test_pipeline(
        steps: List[dict],
        where: str = 'test pipeline') -> Tuple[dict, List[dict]]:
    """Split a test pipeline into its image loader and the other steps.

    Annotation loaders (types containing ``'Annotation'``) are dropped:
    inference has no labels.

    Args:
        steps (list[dict]): Transform configs of the test pipeline.
        where (str): Name of the pipeline for error messages.
            Defaults to 'test pipeline'.

    Returns:
        tuple: ``(loader, rest)``: the first step (a ``Load...`` transform
        reading both dates) and the remaining transform configs.

    Raises:
        ValueError: If the pipeline uses test-time augmentation, does not
            start with an image loader, or loads images twice.
    """
    kept = []
    for step in steps:
        kind = str(step.get('type', ''))
        if 'Annotation' in kind:
            continue
        if kind.endswith('TestTimeAug'):
            raise ValueError(
                f'{where} uses TestTimeAug; ChangeDetector runs the plain '
                'test pipeline (use tools/test.py --tta for test-time '
                'augmentation)')
        kept.append(step)
    if not kept or not str(kept[0].get('type', '')).split('.')[-1] \
            .startswith('Load'):
        raise ValueError(
            f'{where} must start with an image loader such as '
            f'LoadBitemporalImages, got {[s.get("type") for s in kept]}')
    loaders = [
        s for s in kept[1:]
        if str(s.get('type', '')).split('.')[-1].startswith('Load')
    ]
    if loaders:
        raise ValueError(f'{where} loads images more than once: '
                         f'{[s.get("type") for s in loaders]}')
    return kept[0], kept[1:]


def _as_batch_lists(
        img_a: PairInput,
        img_b: PairInput) -> Tuple[List[ImageLike], List[ImageLike], bool]:
    """Both dates as lists, and whether a single pair was given."""

    def is_many(x: Any) -> bool:
        return isinstance(x, (list, tuple))

    if is_many(img_a) != is_many(img_b):
        raise TypeError('give one image per date or two lists of the same '
                        f'length, got {type(img_a).__name__} and '
                        f'{type(img_b).__name__}')
    if not is_many(img_a):
        return [img_a], [img_b], True
    if len(img_a) != len(img_b):
        raise ValueError(f'{len(img_a)} date-A images but {len(img_b)} '
                         'date-B images')
    if not img_a:
        raise ValueError('no image pair given')
    return list(img_a), list(img_b), False


class ChangeDetector:
    """Change detection on image pairs with a trained mmcd_ext model.

    Example::

        detector = ChangeDetector('configs/baseline/baseline_r18_levir-256'
                                  '.py', 'work_dirs/baseline/iter_40000.pth')
        result = detector.predict('A/0001.png', 'B/0001.png',
                                  return_probs=True)
        result.change        # (H, W) uint8 0/1
        result.change_prob   # (H, W) float32

    A semantic change model (:attr:`is_semantic`) also returns both dates'
    class maps (and, with ``return_class_probs=True``, per-class
    probabilities); :attr:`class_names` and :attr:`class_palette` name and
    colour their indices. ``dataset_meta`` comes from the checkpoint, else
    from the config's dataset (:func:`config_dataset_meta`).

    Args:
        config (str | os.PathLike | Config): The model's config.
        checkpoint (str | os.PathLike, optional): Local checkpoint file
            (``.pth`` written by ``tools/train.py``). None keeps the freshly
            built weights (tests). Defaults to None.
        device (str): ``'cpu'``, ``'cuda'`` or ``'cuda:N'``. Defaults to
            'cpu'.
        cfg_options (dict, optional): Overrides merged into the config, as
            ``--cfg-options`` of the tools. Defaults to None.

    Raises:
        FileNotFoundError: If the config or the checkpoint does not exist.
        RuntimeError: If the checkpoint does not fit the model (the message
            lists missing, unexpected and mis-shaped keys) or CUDA is asked
            for but not available.
    """

    def __init__(self,
                 config: Union[str, os.PathLike, Config],
                 checkpoint: Optional[Union[str, os.PathLike]] = None,
                 device: str = 'cpu',
                 cfg_options: Optional[dict] = None) -> None:
        self.model = init_model(config, checkpoint, device, cfg_options)
        self.cfg: Config = self.model.cfg
        self.device = check_device(device)
        self.checkpoint = None if checkpoint is None else os.fspath(checkpoint)
        self.dataset_meta: Optional[dict] = self.model.dataset_meta or \
            config_dataset_meta(self.cfg)
        if checkpoint is None:
            print_log(
                'ChangeDetector: no checkpoint given, the model keeps its '
                'freshly built (untrained) weights',
                logger='current',
                level=logging.WARNING)
        steps, where = _config_test_pipeline(self.cfg)
        loader, rest = split_test_pipeline(steps, where)
        self.loader = TRANSFORMS.build(loader)
        self.transforms = Compose([TRANSFORMS.build(s) for s in rest])

    # ------------------------------------------------------------------
    # decision rule, shared with the tiled large-scene inference
    # ------------------------------------------------------------------
    @property
    def change_channels(self) -> Optional[int]:
        """Channels of the model's change output (1 sigmoid, 2 softmax)."""
        return getattr(self.model, 'out_channels', None)

    @property
    def scd_head(self) -> Optional[Any]:
        """The decode head if it gives stacked semantic change logits.

        Such a head (e.g. ``SCDTripleBranchHead``) has ``split_logits``,
        ``num_semantic`` and ``change_threshold``; its ``seg_logits`` are
        ``cat([X_A, X_B, X_C])``.
        """
        head = getattr(self.model, 'decode_head', None)
        if all(
                hasattr(head, a)
                for a in ('split_logits', 'num_semantic', 'change_threshold')):
            return head
        return None

    @property
    def is_semantic(self) -> bool:
        """Whether the model predicts semantic change maps of both dates.

        True for a head with stacked semantic change logits
        (:attr:`scd_head`) or a segmentor that sets the class attribute
        ``semantic_change = True``.
        """
        return self.scd_head is not None or bool(
            getattr(self.model, 'semantic_change', False))

    @property
    def num_classes(self) -> Optional[int]:
        """Class indices of the semantic maps (index 0 "no change").

        From the head (``num_semantic + 1``, or ``num_semantic`` when the
        head has a "no change" logit), else from the dataset meta; None for
        binary models or when unknown.
        """
        if not self.is_semantic:
            return None
        if self.scd_head is not None:
            return int(self.scd_head.num_semantic) + int(
                getattr(self.scd_head, 'semantic_label_offset', 1))
        classes = (self.dataset_meta or {}).get('classes')
        return len(classes) if classes else None

    @property
    def class_names(self) -> Optional[List[str]]:
        """Names of the semantic class indices (semantic models only).

        From the checkpoint's ``dataset_meta``, else the config's dataset
        (``METAINFO`` or ``metainfo``); ``['no change', 'class 1', ...]``
        when neither names them. None for binary models or an unknown
        number of classes.
        """
        if not self.is_semantic:
            return None
        classes = (self.dataset_meta or {}).get('classes')
        num = self.num_classes
        if classes and (num is None or len(classes) == num):
            return [str(c) for c in classes]
        if num is None:
            return None
        return ['no change'] + [f'class {k}' for k in range(1, num)]

    @property
    def class_palette(self) -> Optional[List[List[int]]]:
        """RGB colour per semantic class index (semantic models only).

        The dataset palette (:attr:`palette`) when it has a colour for
        every class, else :func:`default_palette` (256 colours when the
        number of classes is unknown). None for binary models.
        """
        if not self.is_semantic:
            return None
        num = self.num_classes
        palette = self.palette
        if palette and (num is None or len(palette) >= num):
            return palette
        return default_palette(num or 256)

    @property
    def threshold(self) -> float:
        """Probability above which a pixel is "changed".

        0.5 for softmax models (the same as argmax over two classes); the
        decode head's ``threshold`` for one-channel (sigmoid) models, as in
        mmseg's post-processing; the head's ``change_threshold`` for
        semantic change heads (:attr:`scd_head`).
        """
        if self.scd_head is not None:
            return float(self.scd_head.change_threshold)
        if self.change_channels == 1:
            head = getattr(self.model, 'decode_head', None)
            thr = getattr(head, 'threshold', None)
            if thr is not None:
                return float(thr)
        return 0.5

    @property
    def palette(self) -> Optional[List[List[int]]]:
        """Class colours from the checkpoint's ``dataset_meta``, if any."""
        if self.dataset_meta and self.dataset_meta.get('palette'):
            return [list(c) for c in self.dataset_meta['palette']]
        return None

    # ------------------------------------------------------------------
    # preprocessing
    # ------------------------------------------------------------------
    @staticmethod
    def _check_values(img: np.ndarray, index: int, date: str) -> None:
        """Refuse arrays whose values the model would misread."""
        where = f'pair {index}: the date-{date} array'
        if img.dtype == np.bool_:
            raise ValueError(
                f'{where} is boolean; give the image itself (uint8 0..255 '
                'as the config\'s loader reads files), not a mask')
        if not np.issubdtype(img.dtype, np.number):
            raise ValueError(f'{where} has dtype {img.dtype}, not numbers')
        if np.issubdtype(img.dtype, np.integer) and img.size and (int(
                img.min()) < 0 or int(img.max()) > 255):
            raise ValueError(
                f'{where} ({img.dtype}) has values {int(img.min())}..'
                f'{int(img.max())} outside 0..255; the model reads 8-bit '
                'images: rescale to uint8 first')
        if np.issubdtype(img.dtype, np.floating):
            finite = np.isfinite(img)
            if not finite.all():
                raise ValueError(
                    f'{where} has {int((~finite).sum())} NaN/inf pixels; '
                    'fill or mask them first (tools/infer.py treats them as '
                    'no-data in GeoTIFF scenes)')
            top = float(img.max()) if img.size else 0.0
            if 0.0 < top <= 1.0 and float(img.min()) >= 0.0:
                raise ValueError(
                    f'{where} is float in [0, 1]; the model reads images '
                    'in 0..255 as the config\'s loader gives them: pass '
                    '(img * 255).astype(np.uint8) or uint8 data')

    @staticmethod
    def _check_arrays(img_a: np.ndarray, img_b: np.ndarray, index: int,
                      channel_order: str) -> np.ndarray:
        """Validate one array pair and concatenate it to ``(H, W, 2C)``."""
        pair = [img_a, img_b]
        for k, img in enumerate(pair):
            ChangeDetector._check_values(img, index, 'AB'[k])
            if img.ndim == 2:
                img = img[..., None]
            if img.ndim != 3 or img.shape[0] == 0 or img.shape[1] == 0:
                raise ValueError(
                    f'pair {index}: the date-{"AB"[k]} array must be (H, W) '
                    f'or (H, W, C), got shape {img.shape}')
            if channel_order == 'rgb':
                if img.shape[2] != 3:
                    raise ValueError(
                        f'pair {index}: channel_order="rgb" needs 3 '
                        f'channels, the date-{"AB"[k]} array has '
                        f'{img.shape[2]}')
                img = img[..., ::-1]
            pair[k] = img
        if pair[0].shape != pair[1].shape or pair[0].dtype != pair[1].dtype:
            raise ValueError(
                f'pair {index}: the two dates must have the same shape and '
                f'dtype, got {pair[0].shape} {pair[0].dtype} and '
                f'{pair[1].shape} {pair[1].dtype}')
        return np.ascontiguousarray(np.concatenate(pair, axis=2))

    def _prepare(self, img_a: ImageLike, img_b: ImageLike, index: int,
                 channel_order: str) -> dict:
        """Run the test pipeline on one pair: ``inputs`` and a sample."""
        arrays = [isinstance(x, np.ndarray) for x in (img_a, img_b)]
        if arrays[0] != arrays[1]:
            raise TypeError(f'pair {index}: give both dates as file paths or '
                            'both as arrays')
        if arrays[0]:
            img = self._check_arrays(img_a, img_b, index, channel_order)
            results = dict(
                img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2])
        else:
            for x in (img_a, img_b):
                if not isinstance(x, (str, os.PathLike)):
                    raise TypeError(
                        f'pair {index}: an image must be a file path or an '
                        f'(H, W, C) numpy array, got {type(x).__name__}')
            results = dict(
                img_path=os.fspath(img_a), img_path2=os.fspath(img_b))
            results = self.loader(results)
        results = self.transforms(results)
        if results is None:
            raise RuntimeError(f'pair {index}: the test pipeline dropped the '
                               'sample')
        return results

    # ------------------------------------------------------------------
    # prediction
    # ------------------------------------------------------------------
    def change_probability(self, seg_logits: torch.Tensor) -> torch.Tensor:
        """Probability of change from a sample's ``seg_logits``.

        mmseg's post-processing stores softmax logits for multi-channel
        models and the already applied sigmoid for one-channel models.

        Args:
            seg_logits (torch.Tensor): ``(C, H, W)`` with ``C`` 1 or 2.

        Returns:
            torch.Tensor: ``(H, W)`` float32 probability.

        Raises:
            ValueError: For other channel counts or a one-channel map
                outside ``[0, 1]``.
        """
        channels = seg_logits.shape[0]
        parts = self._split_scd(seg_logits)
        if parts is not None:
            return parts[2][0].float().sigmoid()
        if channels == 2:
            return seg_logits.float().softmax(dim=0)[1]
        if channels == 1:
            prob = seg_logits[0].float()
            if prob.numel() and (prob.min() < 0 or prob.max() > 1):
                raise ValueError(
                    'the one-channel seg_logits of this model are not '
                    'probabilities in [0, 1]; mmseg\'s postprocess_result '
                    'applies the sigmoid, a custom segmentor must too')
            return prob
        raise ValueError(f'change probabilities need 1 (sigmoid) or 2 '
                         f'(softmax) change channels, the model gives '
                         f'{channels}')

    def _split_scd(
        self, seg_logits: torch.Tensor
    ) -> Optional[Tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """``(X_A, X_B, X_C)`` of stacked SCD logits, or None."""
        head = self.scd_head
        if head is None or seg_logits.shape[0] != 2 * head.num_semantic + 1:
            return None
        return head.split_logits(seg_logits)

    def class_probabilities(
            self, seg_logits: torch.Tensor) -> Tuple[np.ndarray, np.ndarray]:
        """Per-class probabilities of both dates' semantic change maps.

        Args:
            seg_logits (torch.Tensor): ``(2 (K-1) + 1, H, W)`` stacked logits
                ``cat([X_A, X_B, X_C])`` of a semantic change head.

        Returns:
            tuple[np.ndarray, np.ndarray]: ``(K, H, W)`` float32 per date:
            channel 0 ``1 - sigmoid(X_C)``, channel ``k`` ``sigmoid(X_C) *
            softmax(X_t)[k - 1]``. A head with a "no change" logit
            (``semantic_label_offset`` 0, ``X_t`` has K channels): channel
            ``k`` ``sigmoid(X_C) * softmax(X_t)[k]`` plus ``1 -
            sigmoid(X_C)`` on channel 0.

        Raises:
            ValueError: If the model's head gives no stacked logits.
        """
        parts = self._split_scd(seg_logits)
        if parts is None:
            raise ValueError(
                'per-class probabilities need a semantic change head with '
                'stacked logits (split_logits, e.g. SCDTripleBranchHead); '
                f'this model gives {seg_logits.shape[0]}-channel seg_logits')
        x_a, x_b, x_c = (p.float() for p in parts)
        p_change = x_c.sigmoid()
        offset = getattr(self.scd_head, 'semantic_label_offset', 1)
        out = []
        for x in (x_a, x_b):
            if offset == 0:
                probs = p_change * x.softmax(dim=0)
                probs[:1] += 1 - p_change
            else:
                probs = torch.cat([1 - p_change, p_change * x.softmax(dim=0)])
            out.append(probs.cpu().numpy().astype(np.float32))
        return out[0], out[1]

    def _to_result(self,
                   sample: Any,
                   return_probs: bool,
                   paths: Tuple[Optional[str], Optional[str]],
                   return_class_probs: bool = False) -> ChangeResult:
        if 'pred_sem_seg' not in sample:
            raise RuntimeError('the model returned no pred_sem_seg')
        change = sample.pred_sem_seg.data
        change = change[0] if change.ndim == 3 else change
        change = change.cpu().numpy()
        bad = np.setdiff1d(np.unique(change), [0, 1])
        if bad.size:
            raise ValueError(
                'pred_sem_seg holds values other than 0 and 1 '
                f'({bad.tolist()[:5]}); ChangeDetector expects a binary '
                'change model (2 classes or a one-channel sigmoid)')
        result = ChangeResult(
            change=change.astype(np.uint8),
            img_path=paths[0],
            img_path2=paths[1])
        if return_probs:
            result.change_prob = self.change_probability(
                sample.seg_logits.data).cpu().numpy().astype(np.float32)
        for field, key in (('semantic_a', 'pred_sem_seg_a'),
                           ('semantic_b', 'pred_sem_seg_b')):
            if key in sample:
                data = sample.get(key).data
                data = data[0] if data.ndim == 3 else data
                data = data.cpu().numpy()
                if data.min() < 0 or data.max() > 255:
                    raise ValueError(f'{key} holds class indices outside '
                                     '[0, 255]')
                setattr(result, field, data.astype(np.uint8))
        if return_class_probs:
            if result.semantic_a is None:
                raise ValueError('per-class probabilities were requested but '
                                 'the model is not a semantic change model')
            result.semantic_prob_a, result.semantic_prob_b = \
                self.class_probabilities(sample.seg_logits.data)
        return result

    @torch.no_grad()
    def _run_batch(self,
                   prepared: List[dict],
                   return_probs: bool,
                   paths: List[Tuple[Optional[str], Optional[str]]],
                   return_class_probs: bool = False) -> List[ChangeResult]:
        data = dict(
            inputs=[p['inputs'] for p in prepared],
            data_samples=[p['data_samples'] for p in prepared])
        samples = self.model.test_step(data)
        return [
            self._to_result(s, return_probs, pth, return_class_probs)
            for s, pth in zip(samples, paths)
        ]

    def predict(
        self,
        img_a: PairInput,
        img_b: PairInput,
        return_probs: bool = False,
        channel_order: str = 'bgr',
        batch_size: int = 1,
        return_class_probs: bool = False
    ) -> Union[ChangeResult, List[ChangeResult]]:
        """Detect change between date A and date B.

        Args:
            img_a (str | os.PathLike | np.ndarray | list): Date-A image(s):
                file paths, read by the config's loader, or ``(H, W, C)`` /
                ``(H, W)`` arrays. A list gives several pairs.
            img_b (str | os.PathLike | np.ndarray | list): Date-B image(s),
                the same kind and number as ``img_a``.
            return_probs (bool): Also return ``change_prob``. Defaults to
                False.
            channel_order (str): Channel order of 3-channel **arrays**:
                ``'bgr'`` as ``cv2.imread`` / ``mmcv.imread`` give and as the
                config's loader produces from files, or ``'rgb'`` (e.g. PIL,
                rasterio), which is reversed to BGR first. Files are always
                read by the config's loader. Defaults to 'bgr'.
            batch_size (int): Pairs run through the model together (pairs of
                the same size only). Defaults to 1.
            return_class_probs (bool): Semantic change models: also return
                ``semantic_prob_a`` / ``semantic_prob_b``, ``(K, H, W)``
                per-class probabilities (see :class:`ChangeResult`).
                Defaults to False.

        Returns:
            ChangeResult | list[ChangeResult]: One result for a single pair,
            a list for lists. ``change`` is ``(H, W)`` uint8 0/1 at the
            input size; semantic change models also fill ``semantic_a`` and
            ``semantic_b`` (class indices of :attr:`class_names`, 0 "no
            change" outside the change mask).

        Raises:
            FileNotFoundError: If an image file cannot be read.
            ValueError: On arrays of different shapes, a bad
                ``channel_order`` or a model that is not a change model.
        """
        if channel_order not in ('bgr', 'rgb'):
            raise ValueError(f'channel_order must be "bgr" or "rgb", got '
                             f'"{channel_order}"')
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        list_a, list_b, single = _as_batch_lists(img_a, img_b)
        results: List[ChangeResult] = []
        batch: List[dict] = []
        paths: List[Tuple[Optional[str], Optional[str]]] = []
        for i, (a, b) in enumerate(zip(list_a, list_b)):
            prepared = self._prepare(a, b, i, channel_order)
            path = (prepared['data_samples'].metainfo.get('img_path'),
                    prepared['data_samples'].metainfo.get('img_path2'))
            if batch and (len(batch) == batch_size or prepared['inputs'].shape
                          != batch[0]['inputs'].shape):
                results += self._run_batch(batch, return_probs, paths,
                                           return_class_probs)
                batch, paths = [], []
            batch.append(prepared)
            paths.append(path)
        if batch:
            results += self._run_batch(batch, return_probs, paths,
                                       return_class_probs)
        return results[0] if single else results
