# Table 1 "TTP (w/o ttg)" on SAM-L (the backbone of the paper's numbers):
# no time-travelling gates.
_base_ = './ttp_sam-l_levir.py'
model = dict(backbone=dict(gate_cfg=None))
