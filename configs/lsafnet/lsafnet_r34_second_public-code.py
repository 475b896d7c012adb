# LSAFNet as the authors' public code trains it (github.com/STORMTROOPERRR/
# RSISCD), where it differs from the paper: LGAA returns 2 Fi w + 2 Fj (1 - w),
# SGD with Nesterov momentum, and ImageNet ResNet-34 weights (torchvision's
# resnet34-b627a593.pth from https://download.pytorch.org/models/, put at the
# path below or pass --cfg-options
# model.backbone.init_cfg.checkpoint=PATH; see the README).
# The code's own CD-decoder fusion block is not reproduced (the paper's is).
_base_ = './lsafnet_r34_second.py'
model = dict(
    backbone=dict(
        init_cfg=dict(checkpoint='checkpoints/resnet34-b627a593.pth')),
    decode_head=dict(
        fusion_cfg=dict(type='LGAA', reduction=4, public_code_doubling=True)))
optim_wrapper = dict(optimizer=dict(nesterov=True))
