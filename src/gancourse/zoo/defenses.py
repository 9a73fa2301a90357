"""Recipes for the defenses' trained parts: Defense-GAN-Rec classifiers, MagNet's autoencoder, APE-GAN."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from gancourse.attacks import FGSM
from gancourse.checkpoints import CheckpointRecord, ProgressFile
from gancourse.defenses.ape_gan import WEIGHTINGS, train_ape_gan
from gancourse.defenses.defense_gan import DefenseGAN
from gancourse.defenses.magnet import magnet_autoencoder, train_autoencoder
from gancourse.models.ape_gan import APEDiscriminator, APEGenerator
from gancourse.train.classifier import train_classifier
from gancourse.train.loop import History
from gancourse.zoo.classifiers import ClassifierRecipes
from gancourse.zoo.gans import GANRecipes
from gancourse.zoo.recipe import Call

RECONSTRUCTION_IMAGES_PER_EVAL_IMAGE = 6  # Defense-GAN-Rec trains on 6 × eval_size projected training images


class DefenseRecipes(ClassifierRecipes, GANRecipes):
    """Defense recipes (mixed into :class:`gancourse.zoo.Zoo`)."""

    def _reconstruction_count(self) -> int:
        return min(len(self.bundle.train_images), RECONSTRUCTION_IMAGES_PER_EVAL_IMAGE * self.profile.eval_size)

    def training_reconstructions(self) -> tuple[torch.Tensor, torch.Tensor]:
        """G(z*) of the first 6 × ``eval_size`` training images and their labels: each projected onto
        :meth:`wgan_gp`'s generator with the profile's L and one restart (seeded). The four Defense-GAN-Rec
        classifiers train on these same reconstructions, so they are computed once per :class:`Zoo` (kept in
        its ``shared`` results) and only when a Rec classifier has to be trained; projecting is most of their
        cost."""
        count = self._reconstruction_count()
        key = f"training-reconstructions-{count}"
        if key not in self.shared:
            generator = self.wgan_gp()[0]["generator"]
            defense = DefenseGAN(generator, 128, steps=self.profile.projection_steps, restarts=1, seed=self.seed)
            self.shared[key] = (defense(self.bundle.train_images[:count].to(self.device)).cpu(),
                            self.bundle.train_labels[:count])
        return self.shared[key]

    def reconstruction_trained(self, name: str) -> tuple[nn.Module, CheckpointRecord]:
        """Defense-GAN-Rec: classifier ``name`` trained on Defense-GAN reconstructions G(z*) of training images
        instead of the images themselves (:meth:`training_reconstructions`). To fit the profile's budget it is
        fine-tuned from :meth:`classifier`'s weights for the profile's classifier epochs."""
        clean, clean_record = self.classifier(name)
        gan_record = self.wgan_gp()[1]
        count = self._reconstruction_count()
        trainer = Call(train_classifier, epochs=self.profile.classifier_epochs, lr=1e-3)

        def train(model: nn.Module, progress: ProgressFile) -> History:
            loader = DataLoader(TensorDataset(*self.training_reconstructions()), batch_size=self.profile.batch_size,
                                shuffle=True, generator=torch.Generator().manual_seed(self.seed))
            return trainer(model, loader, device=self.device, progress=progress)

        return self.make(f"classifier-{name}-reconstructions", clean, trainer, train,
                         inputs={"model": clean_record, "generator": gan_record},
                         settings={"images": count, "projection_steps": self.profile.projection_steps, "restarts": 1,
                                   "batch_size": self.profile.batch_size},
                         evaluate=lambda _: {"images": count})

    def magnet(self) -> tuple[nn.Module, CheckpointRecord]:
        """MagNet's autoencoder for the dataset, trained with noise 0.1 and Adam(1e-2) for 3 × the profile's
        classifier epochs (it is tiny); wrap it in :class:`gancourse.defenses.magnet.MagNet`."""
        trainer = Call(train_autoencoder, epochs=3 * self.profile.classifier_epochs, noise=0.1, lr=1e-2)
        return self.make("magnet-autoencoder", Call(magnet_autoencoder, self.bundle.info.image_shape[0]), trainer,
                         lambda model, progress: trainer(model, self.bundle.train_loader, device=self.device,
                                                         progress=progress),
                         settings={"batch_size": self.bundle.train_loader.batch_size})

    def ape_gan(self, name: str, *, weighting: str = "lecture") -> tuple[nn.ModuleDict, CheckpointRecord]:
        """APE-GAN's generator and discriminator trained for the profile's ``ape_gan_iterations`` on FGSM
        examples of classifier ``name`` at the dataset's ℓ∞ budget (the paper trains on FGSM; its author used
        ε = 0.3 on MNIST), with the loss weights of :data:`gancourse.defenses.ape_gan.WEIGHTINGS`
        ``[weighting]``."""
        if weighting not in WEIGHTINGS:
            raise ValueError(f"unknown APE-GAN weighting {weighting!r}; choose one of {', '.join(WEIGHTINGS)}")
        attacked, attacked_record = self.classifier(name)
        eps = self.bundle.info.linf_budget
        fgsm = FGSM(attacked, eps)
        channels, size = self.bundle.info.image_shape[0], self.bundle.info.image_shape[1]
        trainer = Call(train_ape_gan, iterations=self.profile.ape_gan_iterations, weights=WEIGHTINGS[weighting],
                       lr=2e-4)
        return self.make(
            f"ape-gan-{name}-{weighting}",
            {"generator": Call(APEGenerator, channels), "discriminator": Call(APEDiscriminator, channels, size)},
            trainer, lambda pair, progress: trainer(pair["generator"], pair["discriminator"], fgsm,
                                                    self.bundle.train_loader, device=self.device, progress=progress),
            inputs={"attacked_model": attacked_record},
            settings={"attack": "fgsm", "eps": eps, "batch_size": self.bundle.train_loader.batch_size})
