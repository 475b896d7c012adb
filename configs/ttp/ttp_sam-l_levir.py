# TTP with the SAM ViT-L encoder (24 blocks, global blocks 5, 11, 17, 23).
_base_ = './ttp_sam-b_levir.py'
sam_checkpoint = 'checkpoints/sam_vit_l_0b3195.pth'
model = dict(
    backbone=dict(
        arch='large',
        init_cfg=dict(type='Pretrained', checkpoint=sam_checkpoint)))
