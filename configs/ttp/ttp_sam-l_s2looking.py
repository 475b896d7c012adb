# TTP SAM-L on S2Looking (1024 pairs, 512 crops, 512/256 sliding window).
_base_ = [
    '../_base_/models/ttp_sam-l.py', '../_base_/datasets/s2looking.py',
    '../_base_/default_runtime.py', '../_base_/schedules/ttp_adamw_300e.py'
]
model = dict(test_cfg=dict(crop_size=_base_.crop_size, stride=(256, 256)))
train_dataloader = dict(batch_size=4, sampler=dict(type='DefaultSampler'))
