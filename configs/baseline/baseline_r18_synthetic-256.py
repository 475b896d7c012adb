# The Siamese ResNet-18 / UPerNet baseline (the demo before FrNet took over:
# change-F1 82.6 where `make demo`'s FrNet reaches 88.9) trained
# from scratch on CPU on the synthetic LEVIR-layout scenes that
# tools/misc/make_synthetic_data.py writes (256x256 pairs, 128x128 crops).
_base_ = [
    '../_base_/models/siam_r18_uper.py', '../_base_/datasets/levir_cd-256.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_cpu_demo.py'
]

data_root = 'data/synthetic_levir'
crop_size = (128, 128)
norm_cfg = dict(type='BN', requires_grad=True)  # single CPU process
model = dict(
    backbone=dict(norm_cfg=norm_cfg),
    decode_head=dict(
        norm_cfg=norm_cfg,
        channels=64,
        # ~7% of the pixels change: weight them up so the short CPU
        # schedule does not settle on under-segmented buildings
        loss_decode=dict(class_weight=[1.0, 3.0])))

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
