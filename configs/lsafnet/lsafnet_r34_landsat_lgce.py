# Table III "Base + LGCE": LSAFNet with LGAA replaced by concatenation + a
# pointwise MLP (in the SFM and in the CD decoder).
_base_ = './lsafnet_r34_landsat.py'
model = dict(
    decode_head=dict(fusion_cfg=dict(_delete_=True, type='ConcatMLPFusion')))
