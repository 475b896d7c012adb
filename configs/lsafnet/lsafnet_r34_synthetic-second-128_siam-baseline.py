# The Siamese baseline of the synthetic comparison (NOT a paper config): the
# same encoder, SS decoder, losses and schedule as
# lsafnet_r34_synthetic-second-128.py, but no LGAA (concatenation + MLP), no
# LGCE, and no late-stage fusion: the change branch reads the encoder-side
# maps (|F_M1 - F_M2|, |F_L1 - F_L2| and the fused F_H of the two dates)
# instead of the SS decoders' outputs (middle-stage fusion).
_base_ = './lsafnet_r34_synthetic-second-128.py'
model = dict(
    decode_head=dict(
        fusion_cfg=dict(_delete_=True, type='ConcatMLPFusion'),
        lgce_cfg=None,
        change_from='encoder'))
