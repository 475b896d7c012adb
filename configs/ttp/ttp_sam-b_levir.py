# TTP (Chen et al., "Time Travelling Pixels", IGARSS 2024): frozen SAM ViT-B
# image encoder with LoRA (r=16) on q/k/v of every block, time-travelling
# gates after the 4 global-attention blocks, multi-level head, binary
# cross entropy. LEVIR-CD 1024 tiles, random 512x512 crops, sliding-window
# test 512/256; AdamW lr 4e-4, weight decay 0.05, 5 warm-up epochs then
# cosine to 300 epochs, batch 16 in total (4 GPUs x 4:
# tools/dist_train.sh configs/ttp/ttp_sam-b_levir.py 4).
# Switches and their paper / public-code readings: configs/ttp/README.md.
_base_ = [
    '../_base_/datasets/levir_cd-1024.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_40k.py',
]
# Meta's official SAM ViT-B checkpoint (sam_vit_b_01ec64.pth, keys
# image_encoder.*) or mmpretrain's ViTSAM-B checkpoint (keys backbone.*);
# a local file, never downloaded at run time (configs/ttp/README.md).
sam_checkpoint = 'checkpoints/sam_vit_b_01ec64.pth'
sam_arch = 'base'

crop_size = (512, 512)
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
        arch=sam_arch,
        img_size=crop_size[0],  # position tables resized on load
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
        init_cfg=dict(type='Pretrained', checkpoint=sam_checkpoint)),
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
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(256, 256)))

# 16 pairs per iteration in total: 4 per GPU on 4 GPUs (change with the
# number of GPUs).
train_dataloader = dict(
    batch_size=4,
    sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True))

max_epochs = 300
warmup_epochs = 5
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        _delete_=True,
        type='AdamW',
        lr=4e-4,
        betas=(0.9, 0.999),
        weight_decay=0.05))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        eta_min=0.0,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(
    _delete_=True,
    type='EpochBasedTrainLoop',
    max_epochs=max_epochs,
    val_interval=10)
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(by_epoch=True, interval=10))
