# Table 1 "TTP (w/o ttg, ml)" on SAM-L: no gates, single-level head.
_base_ = './ttp_sam-l_levir_wo-ttg.py'
model = dict(decode_head=dict(multi_level=False))
