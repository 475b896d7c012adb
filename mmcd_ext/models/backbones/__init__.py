from .resnet_with_stem import ResNetWithStem
from .sam_lora_vit import SAMLoRAViT
from .vgg_encoder import VGGEncoder

__all__ = ['VGGEncoder', 'SAMLoRAViT', 'ResNetWithStem']
