# SECOND semantic change detection (512x512 pairs; folders im1, im2, label1,
# label2 per split; RGB colour labels decoded on load, see docs/datasets.md).
dataset_type = 'SECONDDataset'
data_root = 'data/second'
crop_size = (512, 512)

train_pipeline = [
    dict(type='LoadBitemporalImages'),
    dict(type='LoadSCDAnnotations'),
    dict(type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    dict(type='RandomRotate90', prob=0.5),
    dict(type='PackCDInputs'),
]
test_pipeline = [
    dict(type='LoadBitemporalImages'),
    dict(type='LoadSCDAnnotations'),
    dict(type='PackCDInputs'),
]
# tools/test.py --tta: original and horizontally flipped
tta_pipeline = [
    dict(type='LoadBitemporalImages'),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='RandomFlip', prob=0.0, direction='horizontal'),
                dict(type='RandomFlip', prob=1.0, direction='horizontal')
            ],
            [dict(type='LoadSCDAnnotations')],
            [dict(type='PackCDInputs')],
        ]),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='train/im1',
            img_path2='train/im2',
            seg_map_path_a='train/label1',
            seg_map_path_b='train/label2'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='val/im1',
            img_path2='val/im2',
            seg_map_path_a='val/label1',
            seg_map_path_b='val/label2'),
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='test/im1',
            img_path2='test/im2',
            seg_map_path_a='test/label1',
            seg_map_path_b='test/label2'),
        pipeline=test_pipeline))
val_evaluator = dict(type='SCDMetric')
test_evaluator = val_evaluator
