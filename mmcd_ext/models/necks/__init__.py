from .bitemporal_fusion import BitemporalFusionNeck
from .hopfield_pooling import HopfieldPooling
from .frnet_neck import FrNetNeck

__all__ = ['BitemporalFusionNeck', 'HopfieldPooling', 'FrNetNeck']
