# LSAFNet on Landsat-SCD as the authors' public code builds and trains it
# (github.com/STORMTROOPERRR/RSISCD, configs/SCD_Landsat.yaml,
# dataset/Landsat_SCD.py): the public-code model
# (configs/_base_/models/lsafnet_r34_public-code.py) with Landsat-SCD's 5
# labels, its per-date mean / std and lr 0.1. It loads a checkpoint trained
# with the authors' code (tools/model_converters/rsiscd2mmcd.py); outputs
# equal theirs for the same weights.
_base_ = [
    '../_base_/models/lsafnet_r34_public-code.py',
    '../_base_/datasets/landsat_scd.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/lsafnet_sgd_50e.py',
]
tta_model = dict(type='SCDTTAModel')
# dataset/Landsat_SCD.py: per-date mean / std of Landsat-SCD (RGB)
model = dict(
    data_preprocessor=dict(
        mean=[141.53, 139.20, 137.73, 137.36, 136.50, 135.144],
        std=[81.99, 83.31, 83.89, 85.97, 86.01, 86.81]),
    decode_head=dict(num_classes=5))
train_dataloader = dict(
    batch_size=8, sampler=dict(type='DefaultSampler', shuffle=True))
# configs/SCD_Landsat.yaml: lr 0.1; Nesterov SGD as for SECOND
optim_wrapper = dict(optimizer=dict(lr=0.1, nesterov=True))
