"""Former registry names of renamed models, so that old configs still build.

One explicit table, old name -> current class; ``tests/test_registry.py``
checks it entry by entry. Add a row when a registered model is renamed,
never remove one.
"""
from typing import Dict, Type

from torch import nn

from mmcd_ext.models.backbones.vgg_encoder import VGGEncoder
from mmcd_ext.models.decode_heads.ttp_head import TTPHead
from mmcd_ext.registry import MODELS

RENAMED_MODELS: Dict[str, Type[nn.Module]] = {
    'SiameseVGG': VGGEncoder,  # a plain VGG encoder; the segmentor is Siamese
    'MultiLevelHead': TTPHead,  # TTP's head (paper eq. 3)
}

for _old_name, _cls in RENAMED_MODELS.items():
    MODELS.register_module(name=_old_name, module=_cls)
