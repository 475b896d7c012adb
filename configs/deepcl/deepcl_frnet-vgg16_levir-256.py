# DeepCL (reconstructed from the abstract, see README.md) on FrNet, LEVIR-CD
# 256x256 patches. The contrastive loss pairs the VGG-16 levels relu2_2,
# relu3_3, relu4_3 (|F1 - F2| skips 1-3 of FrNetNeck) and pool5 (the deep
# feature of the Hopfield block); relu1_2 (two convs deep, full resolution)
# is left out. With the prior, each level's distance map is one more
# channel of the skip difference at the same level, and the pool5 map
# (1/32) is resized onto the Hopfield map T (1/16).
_base_ = '../frnet/frnet_vgg16_levir-256.py'
model = dict(
    type='DeepCLSiamEncoderDecoder',
    contrastive=dict(
        loss=dict(
            type='HardSampleContrastiveLoss',
            margin=1.0,
            gamma=2.0,
            distance='euclidean',
            normalize=True,
            level_weights=None,
            loss_weight=1.0),
        in_indices=(1, 2, 3, 4),  # backbone levels
        prior=True,
        prior_indices=(1, 2, 3, 4),  # neck outputs: skips 1-3, then T
        detach_prior=True))
