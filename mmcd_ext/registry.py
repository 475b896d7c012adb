"""All registries of mmcd_ext, children of mmsegmentation's.

Components are registered here, never into mmseg's registries directly. The
scope is ``mmcd_ext``: configs set ``default_scope = 'mmcd_ext'``, and names
that are not ours fall back to mmseg's (then mmengine's) registries. Other
OpenMMLab packages stay reachable with a scope prefix, e.g.
``type='mmpretrain.ViTSAM'``.
"""
from mmengine.registry import Registry
from mmseg.registry import DATA_SAMPLERS as MMSEG_DATA_SAMPLERS
from mmseg.registry import DATASETS as MMSEG_DATASETS
from mmseg.registry import EVALUATOR as MMSEG_EVALUATOR
from mmseg.registry import HOOKS as MMSEG_HOOKS
from mmseg.registry import INFERENCERS as MMSEG_INFERENCERS
from mmseg.registry import LOG_PROCESSORS as MMSEG_LOG_PROCESSORS
from mmseg.registry import LOOPS as MMSEG_LOOPS
from mmseg.registry import METRICS as MMSEG_METRICS
from mmseg.registry import MODEL_WRAPPERS as MMSEG_MODEL_WRAPPERS
from mmseg.registry import MODELS as MMSEG_MODELS
from mmseg.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMSEG_OPTIM_WRAPPER_CONSTRUCTORS
from mmseg.registry import OPTIM_WRAPPERS as MMSEG_OPTIM_WRAPPERS
from mmseg.registry import OPTIMIZERS as MMSEG_OPTIMIZERS
from mmseg.registry import PARAM_SCHEDULERS as MMSEG_PARAM_SCHEDULERS
from mmseg.registry import RUNNER_CONSTRUCTORS as MMSEG_RUNNER_CONSTRUCTORS
from mmseg.registry import RUNNERS as MMSEG_RUNNERS
from mmseg.registry import TASK_UTILS as MMSEG_TASK_UTILS
from mmseg.registry import TRANSFORMS as MMSEG_TRANSFORMS
from mmseg.registry import VISBACKENDS as MMSEG_VISBACKENDS
from mmseg.registry import VISUALIZERS as MMSEG_VISUALIZERS
from mmseg.registry import WEIGHT_INITIALIZERS as MMSEG_WEIGHT_INITIALIZERS

SCOPE = 'mmcd_ext'

RUNNERS = Registry('runner', parent=MMSEG_RUNNERS, scope=SCOPE)
RUNNER_CONSTRUCTORS = Registry(
    'runner constructor', parent=MMSEG_RUNNER_CONSTRUCTORS, scope=SCOPE)
LOOPS = Registry('loop', parent=MMSEG_LOOPS, scope=SCOPE)
HOOKS = Registry(
    'hook',
    parent=MMSEG_HOOKS,
    scope=SCOPE,
    locations=['mmcd_ext.engine.hooks'])
DATASETS = Registry(
    'dataset',
    parent=MMSEG_DATASETS,
    scope=SCOPE,
    locations=['mmcd_ext.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMSEG_DATA_SAMPLERS, scope=SCOPE)
TRANSFORMS = Registry(
    'transform',
    parent=MMSEG_TRANSFORMS,
    scope=SCOPE,
    locations=['mmcd_ext.datasets.transforms'])
MODELS = Registry(
    'model', parent=MMSEG_MODELS, scope=SCOPE, locations=['mmcd_ext.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper',
    parent=MMSEG_MODEL_WRAPPERS,
    scope=SCOPE,
    locations=['mmcd_ext.models'])
WEIGHT_INITIALIZERS = Registry(
    'weight initializer',
    parent=MMSEG_WEIGHT_INITIALIZERS,
    scope=SCOPE,
    locations=['mmcd_ext.models'])
OPTIMIZERS = Registry('optimizer', parent=MMSEG_OPTIMIZERS, scope=SCOPE)
OPTIM_WRAPPERS = Registry(
    'optim_wrapper', parent=MMSEG_OPTIM_WRAPPERS, scope=SCOPE)
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMSEG_OPTIM_WRAPPER_CONSTRUCTORS,
    scope=SCOPE)
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=MMSEG_PARAM_SCHEDULERS, scope=SCOPE)
METRICS = Registry(
    'metric',
    parent=MMSEG_METRICS,
    scope=SCOPE,
    locations=['mmcd_ext.evaluation'])
EVALUATOR = Registry(
    'evaluator',
    parent=MMSEG_EVALUATOR,
    scope=SCOPE,
    locations=['mmcd_ext.evaluation'])
TASK_UTILS = Registry(
    'task util',
    parent=MMSEG_TASK_UTILS,
    scope=SCOPE,
    locations=['mmcd_ext.models'])
VISUALIZERS = Registry(
    'visualizer',
    parent=MMSEG_VISUALIZERS,
    scope=SCOPE,
    locations=['mmcd_ext.visualization'])
VISBACKENDS = Registry(
    'vis_backend',
    parent=MMSEG_VISBACKENDS,
    scope=SCOPE,
    locations=['mmcd_ext.visualization'])
LOG_PROCESSORS = Registry(
    'log_processor',
    parent=MMSEG_LOG_PROCESSORS,
    scope=SCOPE,
    locations=['mmcd_ext.visualization'])
INFERENCERS = Registry(
    'inferencer',
    parent=MMSEG_INFERENCERS,
    scope=SCOPE,
    locations=['mmcd_ext.apis'])
