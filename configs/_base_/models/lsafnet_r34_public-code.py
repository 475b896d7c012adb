# LSAFNet's model as the authors' public code builds it
# (github.com/STORMTROOPERRR/RSISCD, models/SCD.py, models/loss.py): every
# switch of configs/lsafnet/README.md's paper-vs-public table set to the
# public code. The dataset configs lsafnet_r34_{second,landsat}_public-code.py
# add the per-date mean / std and the learning rate of each dataset.
# Training starts from torchvision's ImageNet ResNet-34
# (resnet34-b627a593.pth from https://download.pytorch.org/models/, put at
# the path below or pass
# --cfg-options model.backbone.init_cfg.checkpoint=PATH).
_base_ = './lsafnet_r34.py'
# plain BN: the public code trains with DataParallel on 2 GPUs (4 pairs
# each, statistics per GPU); train with 2 GPUs x batch_size=4 to match
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
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
