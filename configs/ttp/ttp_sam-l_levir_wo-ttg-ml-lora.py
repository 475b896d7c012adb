# Table 1 "TTP (w/o ttg, ml, tuning)" on SAM-L: no gates, single-level head,
# no LoRA (the SAM encoder is entirely frozen; only the head trains).
_base_ = './ttp_sam-l_levir_wo-ttg-ml.py'
model = dict(backbone=dict(lora_cfg=None))
