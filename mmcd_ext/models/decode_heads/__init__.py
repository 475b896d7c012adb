from .frnet_head import FrNetHead

__all__ = ['FrNetHead']
