from .bitemporal_fusion import BitemporalFusionNeck
from .frnet_neck import FrNetNeck
from .hopfield_pooling import HopfieldPooling

__all__ = ['BitemporalFusionNeck', 'HopfieldPooling', 'FrNetNeck']
