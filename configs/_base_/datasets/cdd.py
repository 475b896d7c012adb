# CDD (Lebedev et al. 2018), the season-varying 256x256 subset: 10000
# train / 3000 val / 3000 test pairs, converted by
# tools/dataset_converters/cdd.py from the released <split>/{A,B,OUT}/*.jpg
# (JPEG labels thresholded to 0/255) into <split>/{A,B,label}/*.png.
# Same pipelines as levir_cd-256 (whole 256x256 pairs, no crop).
_base_ = './levir_cd-256.py'

dataset_type = 'BinaryCDFolderDataset'
data_root = 'data/cdd'

train_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root, label_encoding='0/255'))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root, label_encoding='0/255'))
test_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root, label_encoding='0/255'))
