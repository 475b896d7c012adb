# The gate as the authors' public code has it (open-cd
# TimeFusionTransformerEncoderLayer): after every windowed block (8 of 12
# for SAM-B), Proj2 = conv-GELU-conv, X1 updated from the already updated
# X0, Proj1 = 1/(2C), Proj2 at PyTorch's random init and never trained
# (peft freezes it). Everything else as ttp_sam-b_levir.py; the public
# code's LoRA (one joint adapter on qkv, alpha 32, dropout 0.01) and loss
# (2-class softmax CE) are further switches, see configs/ttp/README.md.
_base_ = './ttp_sam-b_levir.py'
model = dict(
    backbone=dict(
        gate_placement='windowed',
        gate_cfg=dict(
            proj2_hidden=True,
            sequential_update=True,
            init_mode='public',
            trainable=False)))
