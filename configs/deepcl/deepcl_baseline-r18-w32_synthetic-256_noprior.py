# deepcl_baseline-r18-w32_synthetic-256.py without the knowledge prior.
_base_ = './deepcl_baseline-r18-w32_synthetic-256.py'
model = dict(contrastive=dict(prior=False))
