# LSAFNet on Landsat-SCD as the authors' public code builds and trains it
# (github.com/STORMTROOPERRR/RSISCD, configs/SCD_Landsat.yaml,
# dataset/Landsat_SCD.py): the model switches of
# lsafnet_r34_second_public-code.py with Landsat-SCD's 5 labels, its per-date
# mean / std and lr 0.1. It loads a checkpoint trained with the authors' code
# (tools/model_converters/rsiscd2mmcd.py); outputs equal theirs for the same
# weights.
_base_ = './lsafnet_r34_landsat.py'
norm_cfg = dict(type='BN', requires_grad=True)
# dataset/Landsat_SCD.py: per-date mean / std of Landsat-SCD (RGB)
public_mean = [141.53, 139.20, 137.73, 137.36, 136.50, 135.144]
public_std = [81.99, 83.31, 83.89, 85.97, 86.01, 86.81]
model = dict(
    data_preprocessor=dict(mean=public_mean, std=public_std),
    per_date_backbone=True,
    backbone=dict(
        norm_cfg=norm_cfg,
        init_cfg=dict(checkpoint='checkpoints/resnet34-b627a593.pth')),
    decode_head=dict(
        norm_cfg=norm_cfg,
        channels=128,
        cd_channels=128,
        classifier_channels=64,
        fusion_cfg=dict(type='LGAA', reduction=4, public_code_doubling=True),
        sfm_reduced_first=True,
        semantic_input='raw',
        cd_entry='sk',
        semantic_classifier='per_date',
        no_change_logit=True,
        block_depthwise=False,
        per_date_bn=True,
        loss_change=dict(
            _delete_=True,
            type='ClassBalancedBCELoss',
            weight_pos=0.25,
            weight_neg=0.75,
            loss_weight=1.0,
            loss_name='loss_bcd')))
# configs/SCD_Landsat.yaml: lr 0.1; Nesterov SGD as for SECOND
optim_wrapper = dict(optimizer=dict(lr=0.1, nesterov=True))
