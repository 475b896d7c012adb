# TTP with the SAM ViT-H encoder (32 blocks, global blocks 7, 15, 23, 31).
_base_ = './ttp_sam-b_levir.py'
sam_checkpoint = 'checkpoints/sam_vit_h_4b8939.pth'
model = dict(
    backbone=dict(
        arch='huge',
        init_cfg=dict(type='Pretrained', checkpoint=sam_checkpoint)))
