# WHU-CD cut into non-overlapping 256x256 tiles by
# tools/dataset_converters/whu_cd.py (spatially disjoint column strips:
# rightmost 20% test, next 10% val, the rest train), folders
# <split>/{A,B,label}, PNG, labels 0/255.
_base_ = './levir_cd-256.py'

dataset_type = 'BinaryCDFolderDataset'
data_root = 'data/whu-cd-256'

train_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root, label_encoding='0/255'))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root, label_encoding='0/255'))
test_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root, label_encoding='0/255'))
