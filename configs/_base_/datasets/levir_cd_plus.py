# LEVIR-CD+ as released: 1024x1024 tiles (637 train / 348 test pairs,
# no val split: val reads test), folders <split>/{A,B,label}, PNG,
# labels 0/255. Training takes random 512x512 crops; evaluation slides
# 512x512 windows (set in the model's test_cfg, as for levir_cd-1024).

_base_ = './levir_cd-1024.py'

dataset_type = 'BinaryCDFolderDataset'
data_root = 'data/levir-cd-plus'

train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        label_encoding='0/255',
        data_prefix=dict(
            img_path='train/A',
            img_path2='train/B',
            seg_map_path='train/label')))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        label_encoding='0/255',
        data_prefix=dict(
            img_path='test/A', img_path2='test/B', seg_map_path='test/label')))
test_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        label_encoding='0/255',
        data_prefix=dict(
            img_path='test/A', img_path2='test/B', seg_map_path='test/label')))
