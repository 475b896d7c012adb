# The "Base Model" (no Hopfield block) of frnet_vgg16_synthetic-256.py.
_base_ = './frnet_vgg16_synthetic-256.py'
model = dict(neck=dict(use_hopfield=False))
