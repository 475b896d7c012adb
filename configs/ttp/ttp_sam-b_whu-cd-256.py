# TTP SAM-B on WHU-CD 256x256 tiles with the paper's schedule (sliding
# window = the dataset's crop, i.e. whole tiles).
_base_ = [
    '../_base_/models/ttp_sam-b.py', '../_base_/datasets/whu_cd-256.py',
    '../_base_/default_runtime.py', '../_base_/schedules/ttp_adamw_300e.py'
]
model = dict(test_cfg=dict(crop_size=_base_.crop_size, stride=(128, 128)))
train_dataloader = dict(batch_size=4, sampler=dict(type='DefaultSampler'))
