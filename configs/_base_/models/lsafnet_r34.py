# LSAFNet (Zhou et al., GRSL 2024): shared ResNet-34 encoder per date, semantic
# fusion module (LGAA), shared SS decoder (LGCE + two ConvBlocks), late-stage
# CD decoder (LGAA + |difference| ConvBlocks). See configs/lsafnet/README.md.
# Weights: model.backbone.init_cfg.checkpoint (None: Kaiming init).
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='DualInputSegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=8)
model = dict(
    type='SCDSiamEncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNetWithStem',
        depth=34,
        # F_L (stem), F_M, F_1, F_2, F_3: 64, 64, 128, 256, 512 channels;
        # layer3 / layer4 at stride 1 (the authors' code): F_1..F_3 at 1/8
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 1, 1),
        out_indices=(0, 1, 2, 3),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        # torchvision's ImageNet ResNet-34 (resnet34-b627a593.pth, a local
        # path) or None: the paper's Kaiming initialisation (the default)
        init_cfg=dict(type='Pretrained', checkpoint=None)),
    decode_head=dict(
        type='SCDTripleBranchHead',
        in_channels=[64, 64, 128, 256, 512],
        in_index=[0, 1, 2, 3, 4],
        channels=64,
        cd_channels=64,
        num_classes=7,  # with "no change"; set by the dataset leaf config
        fusion_cfg=dict(type='LGAA', reduction=4),
        lgce_cfg=dict(type='LGCE', reduction=4),
        change_from='decoder',
        block_dilation=2,
        dropout_ratio=0.0,
        norm_cfg=norm_cfg,
        align_corners=False,
        change_threshold=0.5,
        # eq. 18: L = L_BCD + 0.5 (L_SS1 + L_SS2) + L_SC
        loss_change=dict(
            type='mmseg.CrossEntropyLoss',
            use_sigmoid=True,
            avg_non_ignore=True,
            loss_weight=1.0,
            loss_name='loss_bcd'),
        loss_semantic=dict(
            type='mmseg.CrossEntropyLoss',
            use_sigmoid=False,
            avg_non_ignore=True,
            loss_weight=0.5,
            loss_name='loss_ss'),
        loss_consistency=dict(type='SemanticConsistencyLoss',
                              loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
