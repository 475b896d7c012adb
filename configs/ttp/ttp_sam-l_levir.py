# TTP with the SAM ViT-L encoder (24 blocks, global blocks 5, 11, 17, 23):
# the backbone of the TTP paper's numbers. Weights:
# model.backbone.init_cfg.checkpoint (default
# checkpoints/sam_vit_l_0b3195.pth).
_base_ = './ttp_sam-b_levir.py'
model = dict(
    backbone=dict(
        arch='large',
        init_cfg=dict(checkpoint='checkpoints/sam_vit_l_0b3195.pth')))
