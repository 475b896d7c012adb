from .bitemporal_fusion import BitemporalFusionNeck
from .frnet_neck import FrNetNeck
from .hopfield_pooling import HopfieldPooling
from .ttp_simple_fpn import TTPSimpleFPN

__all__ = [
    'BitemporalFusionNeck', 'HopfieldPooling', 'FrNetNeck', 'TTPSimpleFPN'
]
