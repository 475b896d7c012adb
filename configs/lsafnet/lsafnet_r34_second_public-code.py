# LSAFNet as the authors' public code builds and trains it
# (github.com/STORMTROOPERRR/RSISCD, models/SCD.py, models/loss.py,
# train.py, dataset/SECOND.py): every switch of configs/lsafnet/README.md's
# paper-vs-public table set to the public code. It loads a checkpoint trained
# with the authors' code (tools/model_converters/rsiscd2mmcd.py); outputs
# equal theirs for the same weights. Training starts from torchvision's
# ImageNet ResNet-34 (resnet34-b627a593.pth from
# https://download.pytorch.org/models/, put at the path below or pass
# --cfg-options model.backbone.init_cfg.checkpoint=PATH).
_base_ = './lsafnet_r34_second.py'
# plain BN: the public code trains with DataParallel on 2 GPUs (4 pairs
# each, statistics per GPU); train with 2 GPUs x batch_size=4 to match
norm_cfg = dict(type='BN', requires_grad=True)
# dataset/SECOND.py: per-date mean / std of SECOND (RGB)
public_mean = [113.40, 114.08, 116.45, 111.07, 114.04, 118.18]
public_std = [48.30, 46.27, 48.14, 49.41, 47.01, 47.94]
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
# train.py: SGD with Nesterov momentum 0.9, weight decay 5e-4, lr 0.07,
# poly decay with power 1.5 (the base schedule)
optim_wrapper = dict(optimizer=dict(nesterov=True))
