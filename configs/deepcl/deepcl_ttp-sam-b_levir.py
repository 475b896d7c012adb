# DeepCL (reconstructed from the abstract, see README.md) on TTP with the SAM
# ViT-B encoder, LEVIR-CD (configs/ttp/ttp_sam-b_levir.py: 512 crops of the
# 1024 tiles, sliding-window test). TTP's encoder returns one level per date
# (256 channels, 1/16 of the input, after the time-travelling gates and
# SAM's neck); the contrastive loss pairs that level, and with the prior
# its distance map is one more channel of the concatenated map that the
# multi-level head reads (512 + 1, added by the segmentor). The gradient of
# the loss reaches the trainable parts of the encoder (LoRA, gates, neck);
# SAM's weights stay frozen.
_base_ = '../ttp/ttp_sam-b_levir.py'
model = dict(
    type='DeepCLSiamEncoderDecoder',
    contrastive=dict(
        loss=dict(
            type='HardSampleContrastiveLoss',
            margin=1.0,
            gamma=2.0,
            distance='euclidean',
            normalize=True,
            level_weights=None,
            loss_weight=1.0),
        in_indices=(0, ),
        prior=True,
        detach_prior=True))
