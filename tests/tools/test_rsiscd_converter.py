"""tools/model_converters/rsiscd2mmcd.py on the public LSAFNet's layout.

``PublicSCD`` below is a tiny-width transcription of the authors'
``models/SCD.py`` ``SCDNet`` (STORMTROOPERRR/RSISCD): the same module names
and ``nn.Sequential`` indices, so its state dict has the public key names,
and the public forward written out. Widths (public -> here): backbone
64/64/128/256/512 -> 8/8/16/32/64, decoders 128 -> 16, classifier hidden
64 -> 8. Its state dict converts and loads with ``strict=True`` into our
public-code config at the same widths, and both give the same outputs.
"""
import importlib.util
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmcd_ext.apis import ChangeDetector
from mmcd_ext.registry import MODELS

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO_ROOT, 'configs', 'lsafnet',
                  'lsafnet_r34_second_public-code.py')
C_L, C_M, C_1, C_2, C_3 = 8, 8, 16, 32, 64
D, HID, K = 16, 8, 7
SIZE = 32


def load_tool():
    path = osp.join(REPO_ROOT, 'tools', 'model_converters', 'rsiscd2mmcd.py')
    spec = importlib.util.spec_from_file_location('rsiscd2mmcd', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------
# the public model at tiny width (names as in models/SCD.py)
# ---------------------------------------------------------------------------
def conv_bn_relu(cin, cout):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 1), nn.BatchNorm2d(cout), nn.ReLU())


class Attention(nn.Module):
    """LGAE (``x * w``) / LGAA (``2 x1 w + 2 x2 (1 - w)``)."""

    def __init__(self, c):
        super().__init__()
        h = c // 4
        self.local_att = nn.Sequential(
            nn.Conv2d(c, h, 1), nn.BatchNorm2d(h), nn.ReLU(),
            nn.Conv2d(h, c, 1), nn.BatchNorm2d(c))
        self.global_att = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, h, 1), nn.BatchNorm2d(h),
            nn.ReLU(), nn.Conv2d(h, c, 1), nn.BatchNorm2d(c))

    def weight(self, x):
        return torch.sigmoid(self.local_att(x) + self.global_att(x))

    def forward(self, x1, x2=None):
        if x2 is None:
            return x1 * self.weight(x1)
        w = self.weight(x1 + x2)
        return 2 * x1 * w + 2 * x2 * (1 - w)


class Res(nn.Module):

    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None if cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y +
                      (x if self.downsample is None else self.downsample(x)))


class DecoderBlock(nn.Module):

    def __init__(self, cin, cout):
        super().__init__()
        self.block = nn.Sequential(
            Res(cin, cout), Res(cout, cout),
            nn.Conv2d(cout, cout, 3, padding=2, dilation=2, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU())

    def forward(self, x):
        return self.block(x)


class CTFA(nn.Module):

    def __init__(self, c):
        super().__init__()
        h = max(c // 4, 4)
        self.conv_du = nn.Sequential(
            nn.Conv2d(c, h, 1, bias=False), nn.LeakyReLU(0.2))
        self.fcs = nn.ModuleList(
            [nn.Conv2d(h, c, 1, bias=False) for _ in range(2)])

    def forward(self, x1, x2):
        z = self.conv_du(F.adaptive_avg_pool2d(x1 + x2, 1))
        a = torch.stack([fc(z) for fc in self.fcs], 1).softmax(1)
        return torch.cat([a[:, 0] * x1 + a[:, 1] * x2, (x1 - x2).abs()], 1)


def up_cat(x, like):
    x = F.interpolate(x, like.shape[2:], mode='bilinear', align_corners=False)
    return torch.cat([x, like], 1)


class PublicSCD(nn.Module):

    def __init__(self):
        super().__init__()
        resnet = MODELS.build(
            dict(
                type='ResNetWithStem',
                depth=34,
                stem_channels=C_L,
                base_channels=C_M,
                strides=(1, 2, 1, 1),
                out_indices=(0, 1, 2, 3),
                norm_cfg=dict(type='BN')))
        resnet.fc = nn.Linear(C_3, 10)  # torchvision's classifier
        self.backbone = nn.Module()
        self.backbone.resnet = resnet
        self.encoder = nn.Module()
        self.encoder.block1 = conv_bn_relu(C_3, C_2)
        self.encoder.block2 = conv_bn_relu(C_2, C_1)
        self.encoder.lgaa1 = Attention(C_2)
        self.encoder.lgaa2 = Attention(C_1)
        self.ss_decoder = nn.Module()
        self.ss_decoder.block1 = DecoderBlock(C_1 + C_M, D)
        self.ss_decoder.block2 = DecoderBlock(D + C_L, D)
        self.ss_decoder.lgae = Attention(C_1)
        self.cr_decoder = nn.Module()
        self.cr_decoder.block1 = DecoderBlock(2 * C_1, D)
        self.cr_decoder.block2 = DecoderBlock(2 * D, D)
        self.cr_decoder.block3 = DecoderBlock(2 * D, D)
        self.cr_decoder.ctfa = CTFA(C_1)
        for name in ('ss_classifier1', 'ss_classifier2'):
            setattr(
                self, name,
                nn.Sequential(
                    DecoderBlock(2 * D, D), nn.Conv2d(D, HID, 1),
                    nn.BatchNorm2d(HID), nn.ReLU(), nn.Conv2d(HID, K, 1)))
        self.cr_classifier = nn.Sequential(
            nn.Conv2d(D, HID, 1), nn.BatchNorm2d(HID), nn.ReLU(),
            nn.Conv2d(HID, 1, 1))

    def date(self, x):
        """Backbone, Encoder and SSDecoder of one date."""
        x0, x1, x2, x3, x4 = self.backbone.resnet(x)
        enc = self.encoder
        x4 = enc.lgaa1(enc.block1(x4), x3)  # reduced map first
        x4 = enc.lgaa2(enc.block2(x4), x2)
        dec = self.ss_decoder
        m = dec.block1(up_cat(x4, x1))  # the raw F_H
        low = dec.block2(up_cat(m, x0))
        return low, m, dec.lgae(x4)

    def forward(self, xa, xb):
        la, ma, ha = self.date(xa)
        lb, mb, hb = self.date(xb)
        cr = self.cr_decoder
        x = cr.block1(cr.ctfa(ha, hb))
        x = cr.block2(up_cat(x, (ma - mb).abs()))
        f_c = cr.block3(up_cat(x, (la - lb).abs()))
        outs = (self.cr_classifier(f_c),
                self.ss_classifier1(torch.cat([la, f_c], 1)),
                self.ss_classifier2(torch.cat([lb, f_c], 1)))
        return [
            F.interpolate(
                o, xa.shape[2:], mode='bilinear', align_corners=False)
            for o in outs
        ]


def public_state(seed=0):
    """A randomised tiny public model and its DataParallel state dict."""
    torch.manual_seed(seed)
    model = PublicSCD()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.dtype.is_floating_point:
                continue
            if name.endswith('running_var'):
                tensor.copy_(torch.rand(tensor.shape, generator=gen) + 0.5)
            elif name.endswith(('bias', 'running_mean')) or 'bn' in name:
                tensor.copy_(torch.randn(tensor.shape, generator=gen) * 0.2)
    model.double()
    return model, {'module.' + k: v for k, v in model.state_dict().items()}


TINY = dict(
    backbone=dict(stem_channels=C_L, base_channels=C_M, init_cfg=None),
    decode_head=dict(
        in_channels=[C_L, C_M, C_1, C_2, C_3],
        channels=D,
        cd_channels=D,
        classifier_channels=HID))


def tiny_config_file(tmp_path, base=CONFIG, name='tiny_public.py'):
    path = tmp_path / name
    path.write_text(f'_base_ = {base!r}\n'
                    f'model = {TINY!r}\n')
    return str(path)


def our_model():
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(dict(model=TINY))
    return MODELS.build(cfg.model)


# ---------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------
def test_table_lists_every_key_once_and_drops_only_fc():
    tool = load_tool()
    _, state = public_state()
    rows = tool.key_map()
    ours = [r[0] for r in rows]
    assert len(ours) == len(set(ours))
    used = {r[1] for r in rows} | {r[2] for r in rows if r[2]}
    plain = {k[len('module.'):] for k in state}
    assert plain - used == set(tool.DROPPED)
    assert used <= plain


@pytest.mark.parametrize('prefix', ['module.', ''])
def test_converted_state_loads_strictly_and_outputs_equal(prefix):
    tool = load_tool()
    public, state = public_state()
    state = {prefix + k[len('module.'):]: v for k, v in state.items()}
    model = our_model().double()
    model.load_state_dict(tool.convert_state(state), strict=True)
    gen = torch.Generator().manual_seed(1)
    xa, xb = (
        torch.randn(2, 3, SIZE, SIZE, generator=gen, dtype=torch.float64)
        for _ in 'ab')
    for mode in ('eval', 'train'):  # train: per-date batch statistics
        public.train(mode == 'train')
        model.train(mode == 'train')
        with torch.no_grad():
            expected = public(xa, xb)
            x1, x2, xc = model.decode_head(
                model.extract_feat(torch.cat([xa, xb], 1)))
        for want, got in zip(expected, (xc, x1, x2)):
            got = F.interpolate(
                got, (SIZE, SIZE), mode='bilinear', align_corners=False)
            torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


def test_conv_biases_are_folded_into_the_running_mean():
    tool = load_tool()
    _, state = public_state()
    out = tool.convert_state(state)
    bias = state['module.encoder.block1.0.bias']
    mean = state['module.encoder.block1.1.running_mean']
    torch.testing.assert_close(out['decode_head.sfm.reduce3.bn.running_mean'],
                               mean - bias)
    assert 'decode_head.sfm.reduce3.conv.bias' not in out


def test_mismatches_are_refused_with_the_keys_named():
    tool = load_tool()
    _, state = public_state()
    missing = dict(state)
    del missing['module.ss_decoder.lgae.global_att.4.weight']
    with pytest.raises(KeyError, match='ss_decoder.lgae.global_att.4.weight'):
        tool.convert_state(missing)
    extra = dict(state, **{'module.aux_head.weight': torch.zeros(1)})
    with pytest.raises(KeyError, match='aux_head.weight'):
        tool.convert_state(extra)


def test_cli_checks_the_config(tmp_path, capsys):
    tool = load_tool()
    _, state = public_state()
    src = tmp_path / 'best.pth'
    torch.save({k: v.float() for k, v in state.items()}, src)
    dst = tmp_path / 'converted.pth'
    assert tool.main(
        [str(src), str(dst), '--config',
         tiny_config_file(tmp_path)]) == 0
    assert 'loads into' in capsys.readouterr().out
    saved = torch.load(dst, weights_only=True)['state_dict']
    our_model().load_state_dict(saved, strict=True)
    # the paper's config is not the public model: refused, one line
    paper = tiny_config_file(
        tmp_path,
        osp.join(REPO_ROOT, 'configs', 'lsafnet', 'lsafnet_r34_second.py'),
        'tiny_paper.py')
    with pytest.raises(SystemExit):
        tool.main([str(src), str(tmp_path / 'x.pth'), '--config', paper])
    err = capsys.readouterr().err
    assert 'does not build the public model' in err
    assert not (tmp_path / 'x.pth').exists()
    # a width mismatch names the keys and shapes
    wide = tmp_path / 'wide.py'
    wide.write_text(f'_base_ = {str(tmp_path / "tiny_public.py")!r}\n'
                    'model = dict(decode_head=dict(num_classes=5))\n')
    with pytest.raises(SystemExit):
        tool.main([str(src), str(tmp_path / 'y.pth'), '--config', str(wide)])
    assert 'conv_out.weight' in capsys.readouterr().err


def test_tta_and_change_detector_read_the_no_change_logit(tmp_path):
    """Inference paths outside the segmentor use the label offset too."""
    model = our_model().eval()
    tta = MODELS.build(dict(type='SCDTTAModel', module=model))
    gen = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(2):
        s = SegDataSample()
        s.seg_logits = PixelData(
            data=torch.randn(2 * K + 1, 6, 6, generator=gen))
        samples.append(s)
    logits = [s.seg_logits.data.clone() for s in samples]
    merged = tta.merge_preds([samples])[0]
    prob_a = sum(x[:K].softmax(0) for x in logits) / 2
    p_c = sum(x[2 * K:].sigmoid() for x in logits) / 2
    expected = prob_a.argmax(0, keepdim=True) * (p_c > 0.5).long()
    torch.testing.assert_close(merged.pred_sem_seg_a.data, expected)

    cfg = Config.fromfile(tiny_config_file(tmp_path))
    detector = ChangeDetector(cfg)
    assert detector.num_classes == K
    x = torch.randn(2 * K + 1, 5, 5, generator=gen)
    probs_a, _ = detector.class_probabilities(x)
    p = x[2 * K:].sigmoid()
    want = p * x[:K].softmax(0)
    want[0] += 1 - p[0]
    np_want = want.numpy()
    assert probs_a.shape == (K, 5, 5)
    assert abs(probs_a - np_want).max() < 1e-6
    assert abs(probs_a.sum(0) - 1).max() < 1e-5
