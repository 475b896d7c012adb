"""Test-time augmentation for semantic change models (``tools/test.py --tta``).

mmseg's ``SegTTAModel`` soft-maxes and arg-maxes over all channels of
``seg_logits``; a semantic change model's logits are three stacked branches
``cat([X_A, X_B, X_C])`` (see :class:`SCDSiamEncoderDecoder`), so each
branch is merged on its own here.
"""
from typing import List

import torch
from mmengine.model import BaseTTAModel
from mmengine.structures import PixelData
from mmseg.utils import SampleList

from mmcd_ext.registry import MODELS

#: Clamp of merged probabilities before taking logs (finite logits).
_EPS = 1e-6


@MODELS.register_module()
class SCDTTAModel(BaseTTAModel):
    """Merge augmented predictions of a semantic change model.

    Every augmented sample has already been mapped back to the original
    image by the segmentor's post-processing (flips undone, resized to
    ``ori_shape``). Per sample, over its ``N`` augmentations:

    * change: ``p_C = mean_n sigmoid(X_C^n)``, changed where ``p_C >
      change_threshold`` (the head's);
    * date ``t``: ``p_t = mean_n softmax(X_t^n)``, class ``argmax(p_t) + 1``
      where changed, 0 ("no change") elsewhere (``+ 0`` when the head has
      a "no change" logit, its ``semantic_label_offset``).

    The merged sample carries ``pred_sem_seg``, ``pred_sem_seg_a/b`` and
    ``seg_logits = cat([log p_A, log p_B, logit p_C])``, which the same
    post-processing rules map back to these predictions.

    Args:
        module (dict | nn.Module): The semantic change segmentor (its
            ``decode_head`` has ``split_logits`` and ``change_threshold``).
    """

    def merge_preds(self, data_samples_list: List[SampleList]) -> SampleList:
        """Merge the predictions of each sample's augmentations.

        Args:
            data_samples_list (list[list[SegDataSample]]): Per sample, its
                predictions under every augmentation.

        Returns:
            list[SegDataSample]: One merged prediction per sample.
        """
        head = self.module.decode_head
        if not hasattr(head, 'split_logits'):
            raise TypeError('SCDTTAModel needs a semantic change head with '
                            f'split_logits, got {type(head).__name__}')
        merged = []
        for samples in data_samples_list:
            prob_a = prob_b = prob_c = None
            for sample in samples:
                x_a, x_b, x_c = head.split_logits(sample.seg_logits.data)
                parts = (x_a.softmax(dim=0), x_b.softmax(dim=0), x_c.sigmoid())
                if prob_a is None:
                    prob_a, prob_b, prob_c = (p.clone() for p in parts)
                else:
                    prob_a += parts[0]
                    prob_b += parts[1]
                    prob_c += parts[2]
            n = len(samples)
            prob_a, prob_b, prob_c = prob_a / n, prob_b / n, prob_c / n
            change = (prob_c > head.change_threshold).long()
            offset = getattr(head, 'semantic_label_offset', 1)
            out = samples[0]
            p_c = prob_c.clamp(_EPS, 1 - _EPS)
            out.set_data({
                'seg_logits':
                PixelData(
                    data=torch.cat([
                        prob_a.clamp_min(_EPS).log(),
                        prob_b.clamp_min(_EPS).log(),
                        torch.log(p_c / (1 - p_c))
                    ])),
                'pred_sem_seg':
                PixelData(data=change),
                'pred_sem_seg_a':
                PixelData(
                    data=(prob_a.argmax(dim=0, keepdim=True) + offset) *
                    change),
                'pred_sem_seg_b':
                PixelData(
                    data=(prob_b.argmax(dim=0, keepdim=True) + offset) *
                    change),
            })
            merged.append(out)
        return merged
