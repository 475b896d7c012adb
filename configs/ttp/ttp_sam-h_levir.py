# TTP with the SAM ViT-H encoder (32 blocks, global blocks 7, 15, 23, 31).
# Weights: model.backbone.init_cfg.checkpoint (default
# checkpoints/sam_vit_h_4b8939.pth).
_base_ = './ttp_sam-b_levir.py'
model = dict(
    backbone=dict(
        arch='huge',
        init_cfg=dict(checkpoint='checkpoints/sam_vit_h_4b8939.pth')))
