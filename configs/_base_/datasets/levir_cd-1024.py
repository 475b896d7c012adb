# LEVIR-CD as released: 1024x1024 tiles (445 train / 64 val / 128 test
# pairs, folders <split>/{A,B,label}). Training takes random 512x512 crops;
# evaluation slides 512x512 windows with stride 256 over the whole tiles
# (set in the model's test_cfg: dict(mode='slide', crop_size=(512, 512),
# stride=(256, 256))).
_base_ = './levir_cd-256.py'

data_root = 'data/levir-cd'
crop_size = (512, 512)

train_pipeline = [
    dict(type='LoadBitemporalImages'),
    dict(type='LoadCDAnnotations'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomRotate90', prob=0.5),
    dict(type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    dict(type='BitemporalPhotoMetricDistortion', shared=False),
    dict(type='PackCDInputs'),
]
train_dataloader = dict(
    batch_size=4, dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
