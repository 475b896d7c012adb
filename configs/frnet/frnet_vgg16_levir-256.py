# FrNet (Chang et al., CDCEO 2022): Siamese VGG-16, Hopfield pooling block on
# the 1/32 deep feature, U-Net style decoder over |F1 - F2| skips.
# LEVIR-CD 256x256 patches; Adam (weight decay 1e-5), batch 32 in total,
# lr 1e-4 decaying linearly to 0 over 50k iterations (the paper's schedule).
_base_ = [
    '../_base_/datasets/levir_cd-256.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_40k.py',
]
# ImageNet VGG-16 in torchvision's layout (vgg16-397923af.pth; with
# norm_cfg=norm_cfg in the backbone use vgg16_bn-6c64b313.pth) or mmpretrain's
# VGG-16 layout. None trains from scratch. A local path: no download at run
# time (see configs/frnet/README.md).
pretrained = None

crop_size = (256, 256)
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='DualInputSegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=32)
model = dict(
    type='SiamEncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='VGGEncoder',
        arch='vgg16',
        norm_cfg=None,  # the paper's plain VGG-16
        deep_level='pool5',  # 512 x 8 x 8 for 256 x 256 inputs
        out_indices=(0, 1, 2, 3, 4),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)
        if pretrained else None),
    neck=dict(
        type='FrNetNeck',
        in_channels=512,
        use_hopfield=True,  # False: the "Base Model" of Table 1
        hopfield=dict(
            type='HopfieldPooling',
            feat_size=(crop_size[0] // 32, crop_size[1] // 32),
            num_queries=2,  # c_Q
            beta=None,  # 1 / sqrt(c_Q)
            # the query is learned for 8 x 8 deep features; resize others
            # (inference on larger tiles) instead of raising
            resize_input=True),
        out_channels=16,
        norm_cfg=norm_cfg),
    decode_head=dict(
        type='FrNetHead',
        in_channels=[64, 128, 256, 512, 16],
        in_index=[0, 1, 2, 3, 4],
        channels=64,  # decoder widths 64, 128, 256, 512 (shallow to deep)
        dropout_ratio=0.1,
        num_classes=2,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='mmseg.CrossEntropyLoss',
            use_sigmoid=False,
            avg_non_ignore=True,
            loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

# 32 pairs per iteration in total (the paper: one GPU x 32); with N GPUs set
# batch_size=32 // N.
train_dataloader = dict(batch_size=32)

max_iters = 50000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        _delete_=True,
        type='Adam',
        lr=1e-4,
        betas=(0.9, 0.999),
        weight_decay=1e-5))
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=1.0,
        by_epoch=False,
        begin=0,
        end=max_iters),
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=5000)
default_hooks = dict(checkpoint=dict(interval=5000))
