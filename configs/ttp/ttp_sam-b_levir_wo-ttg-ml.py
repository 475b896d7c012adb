# Table 1 "TTP (w/o ttg, ml)": no gates, single-level head.
_base_ = './ttp_sam-b_levir_wo-ttg.py'
model = dict(decode_head=dict(multi_level=False))
