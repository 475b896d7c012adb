from .resnet_with_stem import ResNetWithStem
from .sam_lora_vit import SAMLoRAViT
from .siamese_vgg import SiameseVGG

__all__ = ['SiameseVGG', 'SAMLoRAViT', 'ResNetWithStem']
