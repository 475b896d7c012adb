# Landsat-SCD semantic change detection (416x416 pairs; same folder layout
# and pipelines as SECOND, its own classes and colour palette).
_base_ = './second.py'

dataset_type = 'LandsatSCDDataset'
data_root = 'data/landsat-scd'
crop_size = (416, 416)

train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
