# LSAFNet with a ResNet-50 encoder (not in the paper) on SECOND, the
# paper's schedule (SGD lr 0.07, poly, 50 epochs, batch 8).
_base_ = [
    '../_base_/models/lsafnet_r50.py', '../_base_/datasets/second.py',
    '../_base_/default_runtime.py', '../_base_/schedules/lsafnet_sgd_50e.py'
]
tta_model = dict(type='SCDTTAModel')  # tools/test.py --tta
train_dataloader = dict(batch_size=8, sampler=dict(type='DefaultSampler'))
