# TTP (Chen et al., "Time Travelling Pixels", IGARSS 2024) with SAM ViT-B on
# LEVIR-CD 1024 tiles: random 512x512 crops, sliding-window test 512/256;
# AdamW lr 4e-4, weight decay 0.05, 5 warm-up epochs then cosine to 300
# epochs, batch 16 in total (4 GPUs x 4:
# tools/dist_train.sh configs/ttp/ttp_sam-b_levir.py 4).
# Weights: model.backbone.init_cfg.checkpoint (default
# checkpoints/sam_vit_b_01ec64.pth; configs/_base_/models/ttp_sam-b.py).
# Switches and their paper / public-code readings: configs/ttp/README.md.
_base_ = [
    '../_base_/models/ttp_sam-b.py', '../_base_/datasets/levir_cd-1024.py',
    '../_base_/default_runtime.py', '../_base_/schedules/ttp_adamw_300e.py'
]
model = dict(test_cfg=dict(crop_size=_base_.crop_size, stride=(256, 256)))
# 16 pairs per iteration in total: 4 per GPU on 4 GPUs (change with the
# number of GPUs); epoch-based training needs a finite sampler.
train_dataloader = dict(
    batch_size=4,
    sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True))
