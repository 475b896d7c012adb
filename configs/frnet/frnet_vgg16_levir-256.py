# FrNet (Chang et al., CDCEO 2022) on LEVIR-CD 256x256 patches, as the paper
# describes it: no data augmentation and no dropout (the paper lists
# neither; configs/frnet/frnet_vgg16_levir-256_aug-dropout.py switches both
# on); Adam (weight decay 1e-5), batch 32 in total, lr 1e-4 decaying
# linearly to 0 over 50k iterations.
# Weights: model.backbone.init_cfg.checkpoint (ImageNet VGG-16, a local
# file; None, the default here, trains from scratch with a WARNING; see
# configs/frnet/README.md).
_base_ = [
    '../_base_/models/frnet_vgg16.py', '../_base_/datasets/levir_cd-256.py',
    '../_base_/default_runtime.py', '../_base_/schedules/frnet_adam_50k.py'
]
model = dict(
    neck=dict(
        hopfield=dict(
            feat_size=(_base_.crop_size[0] // 32, _base_.crop_size[1] // 32))))
# 32 pairs per iteration in total (the paper: one GPU x 32); with N GPUs set
# batch_size=32 // N. No augmentation (the paper lists none).
train_dataloader = dict(
    batch_size=32,
    dataset=dict(pipeline=[
        dict(type='LoadBitemporalImages'),
        dict(type='LoadCDAnnotations'),
        dict(type='PackCDInputs'),
    ]))
