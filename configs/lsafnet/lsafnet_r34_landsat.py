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
# torchvision's ImageNet ResNet-34 (resnet34-b627a593.pth, a local path) or
# None for the paper's Kaiming initialisation; see configs/lsafnet/README.md.
pretrained = None

model = dict(
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=pretrained
                      ) if pretrained else None),
    decode_head=dict(num_classes=5))
train_dataloader = dict(
    batch_size=8, sampler=dict(type='DefaultSampler', shuffle=True))
