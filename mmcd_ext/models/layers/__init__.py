"""Building blocks shared by mmcd_ext models (registered in ``MODELS``)."""
from .lsafnet_blocks import (LGAA, LGCE, ConcatMLPFusion, LSAFConvBlock,
                             LSAFPerDateClassifier, SemanticFusionModule,
                             SKDateFusion)
from .qkv_lora import QKVLoRALinear
from .time_travelling_gate import TimeTravellingGate

__all__ = [
    'QKVLoRALinear', 'TimeTravellingGate', 'LGAA', 'LGCE', 'ConcatMLPFusion',
    'SemanticFusionModule', 'LSAFConvBlock', 'SKDateFusion',
    'LSAFPerDateClassifier'
]
