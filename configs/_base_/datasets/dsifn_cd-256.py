# DSIFN-CD (Zhang et al. 2020) cut into non-overlapping 256x256 patches by
# tools/dataset_converters/dsifn_cd.py (the release mixes PNG and TIF
# masks, 512x512 tiles): 14400 train / 1360 val / 192 test pairs, folders
# <split>/{A,B,label}, PNG, labels 0/255. Same pipelines as levir_cd-256.
_base_ = './levir_cd-256.py'

dataset_type = 'BinaryCDFolderDataset'
data_root = 'data/dsifn-cd-256'

train_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root, label_encoding='0/255'))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root, label_encoding='0/255'))
test_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root, label_encoding='0/255'))
