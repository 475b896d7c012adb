# FrNet's "Base Model" (Table 1): the same network without the Hopfield
# block; the top of the decoder gets |F1 - F2| of the deep feature through
# the same 1x1 conv-BN-ReLU-x2 projection.
_base_ = './frnet_vgg16_levir-256.py'
model = dict(neck=dict(use_hopfield=False))
