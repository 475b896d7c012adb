# Table III "Base + LGAA": LSAFNet without LGCE (identity).
_base_ = './lsafnet_r34_second.py'
model = dict(decode_head=dict(lgce_cfg=None))
