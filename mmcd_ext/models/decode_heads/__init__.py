from .frnet_head import FrNetHead
from .scd_triple_branch_head import SCDTripleBranchHead
from .ttp_head import TTPHead

__all__ = ['FrNetHead', 'TTPHead', 'SCDTripleBranchHead']
