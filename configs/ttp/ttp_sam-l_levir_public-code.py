# TTP as the authors' public code trains it (open-cd
# configs/ttp/ttp_vit-sam-l_512x512_300e_levircd.py with
# configs/_base_/models/ttp_vit-sam-l.py; the authors' KyanChen/TTP
# repository trains the same model): SAM ViT-L encoder, peft LoRA on the
# fused qkv (r 16, alpha 32, dropout 0.01, bias='lora_only': the q/k/v
# biases train), frozen gates after every windowed block, the simple
# feature pyramid + MLP head, 2-class softmax cross entropy, the public
# augmentation and schedule. Loads a checkpoint trained with the authors'
# code after tools/model_converters/opencd_ttp2mmcd.py; switch by switch:
# configs/ttp/README.md.
_base_ = './ttp_sam-l_levir.py'

crop_size = (512, 512)
norm_cfg = dict(type='SyncBN', requires_grad=True)
fpn_norm_cfg = dict(type='mmpretrain.LN2d', requires_grad=True)
model = dict(
    data_preprocessor=dict(size_divisor=32, test_cfg=dict(size_divisor=32)),
    backbone=dict(
        # peft LoraConfig(r=16, target_modules=['qkv'], lora_alpha=32,
        # lora_dropout=0.01, bias='lora_only')
        lora_cfg=dict(rank=16, alpha=32, dropout=0.01, mode='joint'),
        train_qkv_bias=True,
        # open-cd TimeFusionTransformerEncoderLayer
        gate_placement='windowed',
        gate_cfg=dict(
            proj2_hidden=True,
            sequential_update=True,
            init_mode='public',
            trainable=False)),
    # open-cd FeatureFusionNeck(policy='concat') + SimpleFPN
    neck=dict(
        type='TTPSimpleFPN',
        backbone_channel=512,
        in_channels=[128, 256, 512, 512],
        out_channels=256,
        num_outs=5,
        norm_cfg=fpn_norm_cfg),
    # open-cd MLPSegHead
    decode_head=dict(
        _delete_=True,
        type='TTPMLPHead',
        out_size=(128, 128),
        in_channels=[256] * 5,
        in_index=[0, 1, 2, 3, 4],
        channels=256,
        dropout_ratio=0.0,
        num_classes=2,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='mmseg.CrossEntropyLoss',
            use_sigmoid=False,
            avg_non_ignore=False,
            loss_weight=1.0)))

train_pipeline = [
    dict(type='LoadBitemporalImages'),
    dict(type='LoadCDAnnotations'),
    dict(type='BitemporalRandomRotate', prob=0.5, degree=180),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(
        type='BitemporalPhotoMetricDistortion',
        brightness_delta=10,
        contrast_range=(0.8, 1.2),
        saturation_range=(0.8, 1.2),
        hue_delta=10,
        shared=False),
    dict(type='PackCDInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

max_epochs = 300
warmup_epochs = 5
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-4,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min=0.0,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(val_interval=5)
default_hooks = dict(checkpoint=dict(interval=5))
