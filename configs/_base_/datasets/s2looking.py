# S2Looking (Shen et al. 2021): 1024x1024 satellite pairs (3500 train /
# 500 val / 1000 test), converted by tools/dataset_converters/s2looking.py
# from the released <split>/{Image1,Image2,label} (label1/label2, built and
# demolished, are not used) into <split>/{A,B,label}/*.png, labels 0/255.
# Training takes random 512x512 crops; evaluation slides 512x512 windows
# (set in the model's test_cfg, as for levir_cd-1024).
_base_ = './levir_cd-1024.py'

dataset_type = 'BinaryCDFolderDataset'
data_root = 'data/s2looking'

train_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root, label_encoding='0/255'))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root, label_encoding='0/255'))
test_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root, label_encoding='0/255'))
