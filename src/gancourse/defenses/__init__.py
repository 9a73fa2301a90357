"""Defenses: adversarial training, the "safety net" detector; later chapters add Defense-GAN, APE-GAN, MagNet."""
