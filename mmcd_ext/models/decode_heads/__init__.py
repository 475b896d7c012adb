from .frnet_head import FrNetHead
from .multi_level_head import MultiLevelHead

__all__ = ['FrNetHead', 'MultiLevelHead']
