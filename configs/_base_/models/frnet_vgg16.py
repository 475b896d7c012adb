# FrNet (Chang et al., CDCEO 2022), model only: Siamese VGG-16, Hopfield
# pooling block on the 1/32 deep feature, U-Net style decoder over
# |F1 - F2| skips; no dropout (the paper lists none).
#
# Weights: model.backbone.init_cfg.checkpoint, ImageNet VGG-16 in
# torchvision's layout (vgg16-397923af.pth; with norm_cfg=norm_cfg in the
# backbone use vgg16_bn-6c64b313.pth) or mmpretrain's VGG-16 layout; a local
# path, no download at run time (configs/frnet/README.md). None trains from
# scratch (the paper starts from ImageNet: a WARNING at build).
# Size: the Hopfield query is learned for crop_size // 32 (feat_size); it
# follows the dataset base's crop_size when read by mmcd_ext's tools, and a
# crop that is not a multiple of 32 is refused, naming the key.
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
        init_cfg=dict(type='Pretrained', checkpoint=None)),
    neck=dict(
        type='FrNetNeck',
        in_channels=512,
        use_hopfield=True,  # False: the "Base Model" of Table 1
        hopfield=dict(
            type='HopfieldPooling',
            feat_size=(8, 8),  # crop_size // 32 (256 x 256 crops)
            num_queries=2,  # c_Q
            beta=None,  # 1 / sqrt(c_Q)
            # the query is learned for crop-sized deep features; resize
            # others (inference on larger tiles) instead of raising
            resize_input=True),
        out_channels=16,
        norm_cfg=norm_cfg),
    decode_head=dict(
        type='FrNetHead',
        in_channels=[64, 128, 256, 512, 16],
        in_index=[0, 1, 2, 3, 4],
        channels=64,  # decoder widths 64, 128, 256, 512 (shallow to deep)
        dropout_ratio=0.0,  # the paper: no dropout
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
