"""Defenses: adversarial training, the "safety net" detector, Defense-GAN's projection, MagNet; APE-GAN follows."""
