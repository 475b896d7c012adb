# Siamese ResNet-18 / UPerNet baseline on LEVIR-CD 256x256 patches.
# 4 GPUs x 4 pairs, 40k iterations.
_base_ = [
    '../_base_/models/siam_r18_uper.py',
    '../_base_/datasets/levir_cd-256.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_40k.py',
]
# ImageNet ResNet-18 weights in torchvision's layout (resnet18-f37072fd.pth);
# None trains from scratch. Set a local path: no download at run time.
pretrained = None
model = dict(
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=pretrained
                      ) if pretrained else None))
train_dataloader = dict(batch_size=4)
