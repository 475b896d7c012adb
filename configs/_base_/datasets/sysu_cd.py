# SYSU-CD as released: 256x256 aerial pairs (12000 train / 4000 val /
# 4000 test), folders <split>/{time1,time2,label}, PNG, labels 0/255.
# Read directly, no conversion.

_base_ = './levir_cd-256.py'

dataset_type = 'BinaryCDFolderDataset'
data_root = 'data/sysu-cd'

train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        label_encoding='0/255',
        data_prefix=dict(
            img_path='train/time1',
            img_path2='train/time2',
            seg_map_path='train/label')))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        label_encoding='0/255',
        data_prefix=dict(
            img_path='val/time1',
            img_path2='val/time2',
            seg_map_path='val/label')))
test_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        label_encoding='0/255',
        data_prefix=dict(
            img_path='test/time1',
            img_path2='test/time2',
            seg_map_path='test/label')))
