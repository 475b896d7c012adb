# DeepCL (Guo et al.; reconstructed from the abstract, see README.md) on the
# Siamese ResNet-18 / UPerNet baseline, LEVIR-CD 256x256 patches. The host
# config is untouched: the segmentor adds the hard-sample-aware contrastive
# loss on the paired backbone levels and, with the knowledge prior, one
# distance-map channel on each fused level the head reads.
_base_ = '../baseline/baseline_r18_levir-256.py'
model = dict(
    type='DeepCLSiamEncoderDecoder',
    contrastive=dict(
        loss=dict(
            type='HardSampleContrastiveLoss',
            margin=1.0,
            gamma=2.0,  # 0: STANet's batch-balanced contrastive loss
            distance='euclidean',  # or 'cosine'
            normalize=True,  # L2-normalise the features first
            level_weights=None,  # mean over the levels
            loss_weight=1.0),
        in_indices=(0, 1, 2, 3),  # ResNet-18 levels, 1/4 .. 1/32
        prior=True,  # distance maps as extra head input channels
        detach_prior=True))  # the segmentor adds one head channel per map
