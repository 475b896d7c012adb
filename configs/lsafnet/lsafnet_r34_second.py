# LSAFNet on SECOND (512x512 pairs, 7 labels with "no change"): ResNet-34 from
# Kaiming init, batch 8, 50 epochs of SGD lr 0.07 with poly decay, random
# flips and 90-degree rotations (the paper's section III-B).
_base_ = [
    '../_base_/models/lsafnet_r34.py',
    '../_base_/datasets/second.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/lsafnet_sgd_50e.py',
]

# tools/test.py --tta: each branch of the stacked logits merged on its own
tta_model = dict(type='SCDTTAModel')
# Weights: model.backbone.init_cfg.checkpoint (torchvision's ImageNet
# ResNet-34, a local path) or None, the paper's Kaiming initialisation (the
# default); see configs/lsafnet/README.md.
model = dict(decode_head=dict(num_classes=7))
# 8 pairs per iteration in total (the paper: 2 GPUs x 4); with N GPUs set
# batch_size=8 // N. Epoch-based training needs a finite sampler.
train_dataloader = dict(
    batch_size=8, sampler=dict(type='DefaultSampler', shuffle=True))
