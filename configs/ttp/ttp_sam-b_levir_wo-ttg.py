# Table 1 "TTP (w/o ttg)": no time-travelling gates.
_base_ = './ttp_sam-b_levir.py'
model = dict(backbone=dict(gate_cfg=None))
