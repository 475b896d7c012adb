# LSAFNet on the synthetic SECOND-layout scenes
# (tools/misc/make_synthetic_data.py --layout second --size 128), trained from
# scratch on CPU in minutes.
# Differences from lsafnet_r34_second.py, all for a 2-core CPU:
# * ResNet-34 at a QUARTER of its width (stem and stages 16, 16, 32, 64, 128
#   channels; same depth and strides); decoder widths 16;
# * BN instead of SyncBN (one process);
# * 128 x 128 scenes, trained on random 64 x 64 crops (whole-image inference
#   on the 128 x 128 scenes); a short iteration-based schedule: SGD as in the
#   paper with a linear warm-up, then poly decay.
_base_ = './lsafnet_r34_second.py'

data_root = 'data/synthetic_second'
norm_cfg = dict(type='BN', requires_grad=True)
widths = (16, 16, 32, 64, 128)
model = dict(
    backbone=dict(
        stem_channels=widths[0], base_channels=widths[1], norm_cfg=norm_cfg),
    decode_head=dict(
        in_channels=list(widths),
        channels=16,
        cd_channels=16,
        norm_cfg=norm_cfg))

crop_size = (64, 64)
train_pipeline = [
    dict(type='LoadBitemporalImages'),
    dict(type='LoadSCDAnnotations'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    dict(type='RandomRotate90', prob=0.5),
    dict(type='PackCDInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    sampler=dict(_delete_=True, type='InfiniteSampler', shuffle=True),
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=1, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

max_iters = 500
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=50),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=1.5,
        by_epoch=False,
        begin=50,
        end=max_iters),
]
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
randomness = dict(seed=0)
