# LSAFNet on SECOND as the authors' public code builds and trains it
# (github.com/STORMTROOPERRR/RSISCD, models/SCD.py, models/loss.py,
# train.py, dataset/SECOND.py): the public-code model
# (configs/_base_/models/lsafnet_r34_public-code.py, every switch of
# configs/lsafnet/README.md's paper-vs-public table) with SECOND's per-date
# mean / std and lr 0.07. It loads a checkpoint trained with the authors'
# code (tools/model_converters/rsiscd2mmcd.py); outputs equal theirs for the
# same weights.
_base_ = [
    '../_base_/models/lsafnet_r34_public-code.py',
    '../_base_/datasets/second.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/lsafnet_sgd_50e.py',
]
tta_model = dict(type='SCDTTAModel')
# dataset/SECOND.py: per-date mean / std of SECOND (RGB)
model = dict(
    data_preprocessor=dict(
        mean=[113.40, 114.08, 116.45, 111.07, 114.04, 118.18],
        std=[48.30, 46.27, 48.14, 49.41, 47.01, 47.94]),
    decode_head=dict(num_classes=7))
train_dataloader = dict(
    batch_size=8, sampler=dict(type='DefaultSampler', shuffle=True))
# train.py: SGD with Nesterov momentum 0.9, weight decay 5e-4, lr 0.07,
# poly decay with power 1.5 (the base schedule)
optim_wrapper = dict(optimizer=dict(nesterov=True))
