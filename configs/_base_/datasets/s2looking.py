# S2Looking as released: 1024x1024 satellite pairs (3500 train / 500
# val / 1000 test), folders <split>/{Image1,Image2,label} (label1/label2
# hold built/demolished and are not used), PNG, labels 0/255. Training
# takes random 512x512 crops; evaluation slides 512x512 windows (set in
# the model's test_cfg, as for levir_cd-1024). Read directly.

_base_ = './levir_cd-1024.py'

dataset_type = 'BinaryCDFolderDataset'
data_root = 'data/s2looking'

train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        label_encoding='0/255',
        data_prefix=dict(
            img_path='train/Image1',
            img_path2='train/Image2',
            seg_map_path='train/label')))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        label_encoding='0/255',
        data_prefix=dict(
            img_path='val/Image1',
            img_path2='val/Image2',
            seg_map_path='val/label')))
test_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        label_encoding='0/255',
        data_prefix=dict(
            img_path='test/Image1',
            img_path2='test/Image2',
            seg_map_path='test/label')))
