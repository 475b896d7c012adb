# LSAFNet with a ResNet-50 encoder (not in the paper): bottleneck stages of
# 256, 512, 1024, 2048 channels, stem 64; the decoder reads them as is.
# Weights: model.backbone.init_cfg.checkpoint (torchvision's
# resnet50-0676ba61.pth, a local path) or None (Kaiming init).
_base_ = './lsafnet_r34.py'
model = dict(
    backbone=dict(depth=50),
    decode_head=dict(in_channels=[64, 256, 512, 1024, 2048]))
