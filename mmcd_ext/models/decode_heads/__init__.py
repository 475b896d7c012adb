from .frnet_head import FrNetHead
from .scd_triple_branch_head import SCDTripleBranchHead
from .ttp_head import TTPHead
from .ttp_mlp_head import TTPMLPHead

__all__ = ['FrNetHead', 'TTPHead', 'SCDTripleBranchHead', 'TTPMLPHead']
