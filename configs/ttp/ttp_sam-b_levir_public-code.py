# The public-code model of ttp_sam-l_levir_public-code.py with the SAM ViT-B
# encoder (gates after the 8 windowed blocks of 12); everything else as
# there.
_base_ = './ttp_sam-l_levir_public-code.py'
model = dict(
    backbone=dict(
        arch='base',
        init_cfg=dict(checkpoint='checkpoints/sam_vit_b_01ec64.pth')))
