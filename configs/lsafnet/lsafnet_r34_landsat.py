# LSAFNet on Landsat-SCD (416x416 pairs, 5 labels with "no change"); the same
# network and schedule as configs/lsafnet/lsafnet_r34_second.py.
_base_ = [
    '../_base_/models/lsafnet_r34.py',
    '../_base_/datasets/landsat_scd.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/lsafnet_sgd_50e.py',
]

# tools/test.py --tta: each branch of the stacked logits merged on its own
tta_model = dict(type='SCDTTAModel')
# Weights: model.backbone.init_cfg.checkpoint (torchvision's ImageNet
# ResNet-34, a local path) or None, the paper's Kaiming initialisation (the
# default); see configs/lsafnet/README.md.
model = dict(decode_head=dict(num_classes=5))
train_dataloader = dict(
    batch_size=8, sampler=dict(type='DefaultSampler', shuffle=True))
