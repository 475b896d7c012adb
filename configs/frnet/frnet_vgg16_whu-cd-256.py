# FrNet (the paper's setting) on WHU-CD 256x256 tiles.
_base_ = [
    '../_base_/models/frnet_vgg16.py', '../_base_/datasets/whu_cd-256.py',
    '../_base_/default_runtime.py', '../_base_/schedules/frnet_adam_50k.py'
]
train_dataloader = dict(batch_size=32)
