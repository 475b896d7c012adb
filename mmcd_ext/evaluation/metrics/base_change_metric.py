"""What the binary and the semantic change metrics share.

Reading label maps out of data samples with errors that name the sample,
writing predicted maps as PNGs, and the arguments and ``format_only`` path
of :class:`BaseChangeMetric`.
"""
import os.path as osp
from collections import OrderedDict
from typing import Any, Dict, List, Optional

import numpy as np
from mmengine.dist import is_main_process
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmengine.utils import mkdir_or_exist
from PIL import Image

from mmcd_ext.utils.atomic import atomic_path


def sample_name(data_sample: dict, index: int) -> str:
    """A readable name for error messages: the image path if known.

    Args:
        data_sample (dict): A model output as a dict.
        index (int): Its position among the processed samples.

    Returns:
        str: ``img_path``, else ``'data sample #<index>'``.
    """
    return str(data_sample.get('img_path', f'data sample #{index}'))


def label_data(data_sample: dict, key: str, name: str) -> Any:
    """``data_sample[key]['data']`` with a clear error when it is missing.

    Args:
        data_sample (dict): A model output as a dict.
        key (str): Field holding a ``PixelData`` (or its dict form), e.g.
            ``'pred_sem_seg'``.
        name (str): Sample name for error messages.

    Returns:
        Any: The field's ``data``, a ``(1, H, W)`` tensor or array.

    Raises:
        KeyError: If the field or its ``data`` is missing.
    """
    field = data_sample.get(key)
    if field is None:
        raise KeyError(f'{name}: the data sample has no "{key}" (keys: '
                       f'{sorted(data_sample.keys())})')
    if isinstance(field, dict):
        data = field.get('data')
    else:
        data = getattr(field, 'data', None)
    if data is None:
        raise KeyError(f'{name}: "{key}" holds no "data"')
    return data


def write_label_png(array: np.ndarray,
                    output_dir: str,
                    img_path: Optional[str],
                    suffix: str = '') -> str:
    """Save a ``(H, W) uint8`` map as ``{stem of img_path}{suffix}.png``.

    The file is written atomically (a temporary file in ``output_dir``,
    renamed when complete), so an interrupted test leaves no half-written
    prediction.

    Args:
        array (np.ndarray): ``(H, W)`` map with values in ``[0, 255]``.
        output_dir (str): Folder of the file.
        img_path (str, optional): Date-A image the map belongs to.
        suffix (str): Appended to the stem. Defaults to ''.

    Returns:
        str: Absolute path of the written file.

    Raises:
        KeyError: If ``img_path`` is None.
    """
    if img_path is None:
        raise KeyError('output_dir is set but the data sample has no '
                       '"img_path" to name the prediction file after')
    stem = osp.splitext(osp.basename(img_path))[0]
    out_file = osp.abspath(osp.join(output_dir, f'{stem}{suffix}.png'))
    with atomic_path(out_file) as tmp:  # complete under its name or absent
        Image.fromarray(array.astype(np.uint8)).save(tmp, format='PNG')
    return out_file


class BaseChangeMetric(BaseMetric):
    """Arguments and the ``format_only`` path of the change metrics.

    Not registered. Subclasses implement ``process`` and :meth:`_score`;
    :meth:`compute_metrics` returns an empty dict without scoring when
    ``format_only`` is set.

    Args:
        ignore_index (int): Label value left out of the scores.
            Defaults to 255.
        zero_division (float): Value (as a fraction, before the ×100) of a
            score whose denominator is zero. Defaults to 0.0.
        collect_device (str): Device used to gather results across ranks,
            'cpu' or 'gpu'. Defaults to 'cpu'.
        output_dir (str, optional): If set, the predictions are written
            there (the folder is created). Defaults to None.
        format_only (bool): Only write the predictions (needs
            ``output_dir``); labels are not read and no score is computed.
            Defaults to False.
        prefix (str, optional): Prefix of the metric names. Defaults to None.
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 ignore_index: int = 255,
                 zero_division: float = 0.0,
                 collect_device: str = 'cpu',
                 output_dir: Optional[str] = None,
                 format_only: bool = False,
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if format_only and output_dir is None:
            raise ValueError(f'{type(self).__name__}: format_only=True '
                             'needs an output_dir to write the predictions '
                             'to')
        self.ignore_index = ignore_index
        self.zero_division = zero_division
        self.output_dir = output_dir
        self.format_only = format_only
        if self.output_dir is not None and is_main_process():
            mkdir_or_exist(self.output_dir)

    def compute_metrics(self, results: List[Any]) -> Dict[str, float]:
        """Score the gathered results (nothing when ``format_only``).

        Args:
            results (list): What ``process`` stored for every sample,
                gathered from all ranks.

        Returns:
            dict[str, float]: The scores of :meth:`_score` (empty when
            ``format_only``).
        """
        logger: MMLogger = MMLogger.get_current_instance()
        if self.format_only:
            logger.info(f'predictions are written to {self.output_dir}')
            return OrderedDict()
        return self._score(results, logger)

    def _score(self, results: List[Any], logger: MMLogger) -> Dict[str, float]:
        """Pool the per-sample results, score and log them.

        Args:
            results (list): What ``process`` stored for every sample.
            logger (MMLogger): Where the result tables go.

        Returns:
            dict[str, float]: The scores.
        """
        raise NotImplementedError
