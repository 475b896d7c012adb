# DeepCL on the baseline without the knowledge prior: the contrastive loss
# only, so the network (and its inference) is exactly the host's.
_base_ = './deepcl_baseline-r18_levir-256.py'
model = dict(contrastive=dict(prior=False))
