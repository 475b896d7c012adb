# TTP (Chen et al., "Time Travelling Pixels", IGARSS 2024), model only: the
# frozen SAM ViT-B image encoder with LoRA (r=16) on q/k/v of every block,
# time-travelling gates after the 4 global-attention blocks, multi-level
# head, binary cross entropy. Sizes: ttp_sam-l.py, ttp_sam-h.py.
#
# Weights: model.backbone.init_cfg.checkpoint, Meta's official SAM ViT-B
# checkpoint (sam_vit_b_01ec64.pth, keys image_encoder.*) or mmpretrain's
# ViTSAM-B checkpoint (keys backbone.*); a local file, never downloaded at
# run time (configs/ttp/README.md). None trains from scratch (WARNING).
# Input size: the position tables are resized to the input at run time
# (no img_size to set). The sliding-window test follows the dataset base's
# crop_size (stride scaled with it) when read by mmcd_ext's tools.
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='DualInputSegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=16)
model = dict(
    type='SiamEncoderDecoder',
    data_preprocessor=data_preprocessor,
    # the encoder runs once on both dates stacked (2B); it returns one level
    # per date (256 x H/16 x W/16); without a neck the segmentor
    # concatenates the dates (512 channels) for the head
    backbone=dict(
        type='SAMLoRAViT',
        arch='base',
        out_channels=256,
        out_indices=-1,
        # eq. 1: W* = W0 + Wa Wb^T, one adapter each for q, k, v
        lora_cfg=dict(rank=16, alpha=16, dropout=0.0, mode='separate'),
        # eq. 2, simultaneous update, trainable, identity init
        gate_cfg=dict(
            proj2_hidden=False,
            sequential_update=False,
            init_mode='identity',
            trainable=True),
        gate_placement='global',  # after the 4 global-attention blocks
        # 'fused': scaled_dot_product_attention with the relative-position
        # term in augmented q/k; 'fused_mask' (term as attn_mask), 'eager'
        attn_impl='fused',
        # activation checkpointing in training: False/'none', 'mlp' (ln2 +
        # MLP), 'attn' (ln1 + attention), 'windowed' (windowed blocks),
        # 'all'/True (every block); configs/ttp/README.md
        with_cp=False,
        init_cfg=dict(
            type='Pretrained', checkpoint='checkpoints/sam_vit_b_01ec64.pth')),
    decode_head=dict(
        type='TTPHead',
        in_channels=512,
        in_index=0,
        channels=256,
        level_channels=256,
        multi_level=True,
        num_extra_levels=1,
        dropout_ratio=0.0,
        num_classes=2,
        out_channels=1,  # one change logit, binary cross entropy (paper)
        threshold=0.5,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='mmseg.CrossEntropyLoss',
            use_sigmoid=True,
            avg_non_ignore=True,
            loss_weight=1.0)),
    train_cfg=dict(),
    # 512 x 512 windows, stride 256 (the paper on LEVIR-CD's 1024 tiles)
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(256, 256)))
