# DSIFN-CD as released: 512x512 pairs (3600 train / 340 val / 48 test),
# folders <split>/{t1,t2,mask}, JPG images; masks are PNG in train and
# val but TIF in test, labels 0/255. Training takes random 512x512
# crops (whole tiles). Read directly, the suffixes are set per split.

_base_ = './levir_cd-1024.py'

dataset_type = 'BinaryCDFolderDataset'
data_root = 'data/dsifn-cd'

train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        img_suffix='.jpg',
        seg_map_suffix='.png',
        label_encoding='0/255',
        data_prefix=dict(
            img_path='train/t1',
            img_path2='train/t2',
            seg_map_path='train/mask')))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        img_suffix='.jpg',
        seg_map_suffix='.png',
        label_encoding='0/255',
        data_prefix=dict(
            img_path='val/t1', img_path2='val/t2', seg_map_path='val/mask')))
test_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        img_suffix='.jpg',
        seg_map_suffix='.tif',
        label_encoding='0/255',
        data_prefix=dict(
            img_path='test/t1', img_path2='test/t2',
            seg_map_path='test/mask')))
