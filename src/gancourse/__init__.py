"""gancourse: the helper package of the gancourse book.

GANs and their variants, adversarial attacks and GAN-based defenses, with the data, profile,
checkpoint and notebook machinery the book's chapters share. Images are float tensors in [0, 1],
NCHW; normalisation, where a model needs it, lives inside the model.
"""

__version__ = "0.1.0"

import numpy as _numpy
import torch as _torch

from gancourse.compat import check_numpy_abi

check_numpy_abi(_torch.__version__, _numpy.__version__)
