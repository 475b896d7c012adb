# DeepCL on the half-width synthetic host (baseline_r18-w32_synthetic-256.py,
# the evidence of tools/analysis/synthetic_benchmark.py --suite deepcl): the
# same contrastive branch and prior as deepcl_baseline-r18_levir-256.py,
# nothing else changed.
_base_ = './baseline_r18-w32_synthetic-256.py'
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
        in_indices=(0, 1, 2, 3),
        prior=True,
        detach_prior=True))
