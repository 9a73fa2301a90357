"""Defenses: adversarial training, the "safety net" detector, Defense-GAN's projection, MagNet and APE-GAN.
The preprocessing defenses share :class:`~gancourse.defenses.base.Preprocessor`, the detecting ones
:class:`~gancourse.defenses.base.ThresholdDetector` (see :mod:`gancourse.defenses.base`)."""
