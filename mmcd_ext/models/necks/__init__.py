from .bitemporal_fusion import BitemporalFusionNeck

__all__ = ['BitemporalFusionNeck']
