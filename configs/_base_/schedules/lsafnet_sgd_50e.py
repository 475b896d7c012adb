# LSAFNet's schedule: SGD (momentum 0.9, weight decay 5e-4), lr 0.07, poly
# decay over 50 epochs (power 1.5 as in the authors' code; the paper gives no
# power), validation every 5 epochs, best checkpoint by SeK.
max_epochs = 50
optimizer = dict(type='SGD', lr=0.07, momentum=0.9, weight_decay=5e-4)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer)
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=1.5,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='AtomicCheckpointHook',
        by_epoch=True,
        interval=5,
        max_keep_ckpts=2,
        save_best='SeK',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='CDVisualizationHook'))
