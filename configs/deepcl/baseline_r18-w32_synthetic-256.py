# The host of DeepCL's synthetic evidence (tools/analysis/
# synthetic_benchmark.py --suite deepcl): the demo's baseline
# (configs/baseline/baseline_r18_synthetic-256.py) at HALF width and on a
# shorter schedule, so that 3 seeds x (host, + DeepCL, + DeepCL without the
# prior) fit on a 2-core CPU shared with other jobs:
# * ResNet-18 with 32 stem / base channels (levels of 32, 64, 128, 256
#   channels; same depth and strides), UPerNet head with 32 channels;
# * 400 iterations instead of 600 (50 warm-up, then linear decay).
# Everything else (data, 128x128 crops, batch 8, AdamW 2e-3, change class
# weighted 3x, whole-image test) is the demo's.
_base_ = '../baseline/baseline_r18_synthetic-256.py'

widths = [32, 64, 128, 256]
model = dict(
    backbone=dict(stem_channels=32, base_channels=32),
    decode_head=dict(in_channels=widths, channels=32))

max_iters = 400
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
default_hooks = dict(checkpoint=dict(interval=max_iters))
