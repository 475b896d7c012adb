# FrNet on the synthetic LEVIR-layout scenes of the demo
# (tools/misc/make_synthetic_data.py --layout levir), trained from scratch on
# CPU in about 6 minutes: the config `make demo` trains (test change-F1 0.889
# against the demo's target 0.88, docs/benchmarks.md).
# Differences from frnet_vgg16_levir-256.py, all for a 2-core CPU:
# * VGG-16 at a QUARTER of its width (16, 32, 64, 128, 128 channels; same
#   depth, layers and strides), with BN (no ImageNet weights here);
# * decoder widths 16, 32, 64, 128; BN instead of SyncBN (one process);
# * 128 x 128 crops, so the deep feature and the learned Hopfield query are
#   4 x 4; evaluation slides 128 x 128 windows (stride 64) over the 256 x 256
#   scenes so the query sees the size it was trained on;
# * the demo's short schedule (Adam, linear warm-up then linear decay);
# * the augmentation below and dropout 0.1 (as frnet_vgg16_levir-256_aug-
#   dropout.py; not in the paper).
_base_ = './frnet_vgg16_levir-256.py'

data_root = 'data/synthetic_levir'
crop_size = (128, 128)
norm_cfg = dict(type='BN', requires_grad=True)
widths = (16, 32, 64, 128, 128)
model = dict(
    backbone=dict(
        _delete_=True,
        type='VGGEncoder',
        arch=dict(channels=widths, depths=(2, 2, 3, 3, 3)),
        norm_cfg=norm_cfg,
        deep_level='pool5',
        out_indices=(0, 1, 2, 3, 4)),
    neck=dict(
        in_channels=widths[4],
        hopfield=dict(feat_size=(crop_size[0] // 32, crop_size[1] // 32)),
        norm_cfg=norm_cfg),
    decode_head=dict(
        in_channels=[*widths[:4], 16],
        channels=16,
        dropout_ratio=0.1,  # as in the demo's runs (not in the paper)
        norm_cfg=norm_cfg,
        # ~7% of the pixels change (as in the demo's baseline config)
        loss_decode=dict(class_weight=[1.0, 3.0])),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(64, 64)))

train_pipeline = [
    dict(type='LoadBitemporalImages'),
    dict(type='LoadCDAnnotations'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomRotate90', prob=0.5),
    dict(type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    dict(type='BitemporalPhotoMetricDistortion', shared=False),
    dict(type='TimeExchange', prob=0.5),
    dict(type='PackCDInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=1, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

max_iters = 600
optim_wrapper = dict(optimizer=dict(lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=50),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=1.0,
        by_epoch=False,
        begin=50,
        end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
randomness = dict(seed=0)
