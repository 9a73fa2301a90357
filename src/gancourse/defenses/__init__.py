"""Defenses: adversarial training, the "safety net" detector, Defense-GAN's projection; APE-GAN and MagNet follow."""
