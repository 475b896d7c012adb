from .sam_lora_vit import SAMLoRAViT
from .resnet_with_stem import ResNetWithStem
from .siamese_vgg import SiameseVGG

__all__ = ['SiameseVGG', 'SAMLoRAViT', 'ResNetWithStem']
