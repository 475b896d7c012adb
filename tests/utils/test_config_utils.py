from mmengine.config import Config

from mmcd_ext.utils.config_utils import propagate_data_root


def test_data_root_reaches_every_loader():
    cfg = Config(
        dict(
            data_root='old',
            train_dataloader=dict(
                dataset=dict(
                    type='RepeatDataset', dataset=dict(data_root='old'))),
            val_dataloader=dict(dataset=dict(data_root='old')),
            test_dataloader=dict(
                dataset=dict(
                    type='ConcatDataset',
                    datasets=[dict(data_root='old'),
                              dict(data_root='old2')]))))
    options = dict(data_root='/new')
    cfg.merge_from_dict(options)
    propagate_data_root(cfg, options)
    assert cfg.train_dataloader.dataset.dataset.data_root == '/new'
    assert cfg.val_dataloader.dataset.data_root == '/new'
    assert [d.data_root for d in cfg.test_dataloader.dataset.datasets] == \
        ['/new', '/new']


def test_without_the_option_nothing_changes():
    cfg = Config(dict(val_dataloader=dict(dataset=dict(data_root='old'))))
    propagate_data_root(cfg, dict(other=1))
    propagate_data_root(cfg, None)
    assert cfg.val_dataloader.dataset.data_root == 'old'
