from .frnet_head import FrNetHead
from .multi_level_head import MultiLevelHead
from .scd_triple_branch_head import SCDTripleBranchHead

__all__ = ['FrNetHead', 'MultiLevelHead', 'SCDTripleBranchHead']
