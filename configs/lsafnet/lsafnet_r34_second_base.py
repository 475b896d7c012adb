# Table III "Base": LSAFNet without LGAA (replaced by concatenation + a
# pointwise MLP, in the SFM and in the CD decoder) and without LGCE (identity).
_base_ = './lsafnet_r34_second.py'
model = dict(
    decode_head=dict(
        fusion_cfg=dict(_delete_=True, type='ConcatMLPFusion'), lgce_cfg=None))
