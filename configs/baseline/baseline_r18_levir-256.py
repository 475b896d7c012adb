# Siamese ResNet-18 / UPerNet baseline on LEVIR-CD 256x256 patches.
# 4 GPUs x 4 pairs, 40k iterations. Weights:
# model.backbone.init_cfg.checkpoint (torchvision's resnet18-f37072fd.pth,
# a local path; None, the default, trains from scratch).
_base_ = [
    '../_base_/models/siam_r18_uper.py', '../_base_/datasets/levir_cd-256.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40k.py'
]
train_dataloader = dict(batch_size=4)
