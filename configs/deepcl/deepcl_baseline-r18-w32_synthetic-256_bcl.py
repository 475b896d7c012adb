# deepcl_baseline-r18-w32_synthetic-256.py with gamma = 0: every pixel
# weighted alike, i.e. STANet's batch-balanced contrastive loss instead of
# the hard-sample-aware one (prior unchanged).
_base_ = './deepcl_baseline-r18-w32_synthetic-256.py'
model = dict(contrastive=dict(loss=dict(gamma=0.0)))
