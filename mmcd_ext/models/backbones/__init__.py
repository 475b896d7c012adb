from .siamese_vgg import SiameseVGG

__all__ = ['SiameseVGG']
