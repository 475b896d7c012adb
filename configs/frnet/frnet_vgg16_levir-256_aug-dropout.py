# frnet_vgg16_levir-256.py with the two additions that are NOT in the FrNet
# paper (named switch "aug-dropout"): dropout 0.1 before the classifier and
# the LEVIR-CD augmentation of configs/_base_/datasets/levir_cd-256.py
# (90-degree rotations, flips, per-date photometric distortion, date swap).
_base_ = './frnet_vgg16_levir-256.py'
model = dict(decode_head=dict(dropout_ratio=0.1))
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadBitemporalImages'),
        dict(type='LoadCDAnnotations'),
        dict(type='RandomRotate90', prob=0.5),
        dict(
            type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
        dict(type='BitemporalPhotoMetricDistortion', shared=False),
        dict(type='TimeExchange', prob=0.5),
        dict(type='PackCDInputs'),
    ]))
