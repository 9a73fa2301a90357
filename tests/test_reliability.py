"""Interrupted work loses nothing, and the same seed gives the same numbers."""

import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from gancourse.checkpoints import CheckpointStore

TRAINING = textwrap.dedent('''
    import sys, time
    import torch
    from torch import nn
    from gancourse.checkpoints import CheckpointStore
    from gancourse.models.toy import MLPDiscriminator, MLPGenerator
    from gancourse.train.gan import GANSetup, train_gan

    def batches():
        while True:
            yield 3 + 0.5 * torch.randn(64, 1), torch.zeros(64, dtype=torch.long)

    def build():
        torch.manual_seed(0)
        return nn.ModuleDict({"generator": MLPGenerator(1, 1, hidden=16), "discriminator": MLPDiscriminator(1, hidden=16)})

    def train(pair, progress):
        G, D = pair["generator"], pair["discriminator"]
        setup = GANSetup(G, D, torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3),
                         loss="non-saturating")
        slow = float(sys.argv[2])
        history = train_gan(setup, batches(), 300, progress=progress, save_every=10, progress_bar=False,
                            on_step=lambda step, stats: time.sleep(slow))
        return {"g_loss": history["g_loss"]}

    torch.manual_seed(0)
    pair, record = CheckpointStore(sys.argv[1]).load_or_train("toy-gan", {"steps": 300}, build, train)
    print(record.source, len(record.metadata["g_loss"]))
''')


def run_training(folder, slow=0.0, **options):
    return subprocess.Popen([sys.executable, "-c", TRAINING, str(folder), str(slow)], **options)


@pytest.mark.slow
def test_a_killed_training_process_resumes_from_its_last_checkpoint_and_leaves_no_debris(tmp_path):
    store = CheckpointStore(tmp_path)
    progress = store.progress("toy-gan", {"steps": 300})
    saved_steps = []
    for kill_after in (0.3, 0.15, 0.25):                    # three hard kills at different moments
        before = progress.path.stat().st_mtime_ns if progress.path.exists() else None
        process = run_training(tmp_path, slow=0.01)
        deadline = time.monotonic() + 60                     # wait until this run has saved once
        while time.monotonic() < deadline and (
                not progress.path.exists() or progress.path.stat().st_mtime_ns == before):
            time.sleep(0.01)
        time.sleep(kill_after)
        assert process.poll() is None, "the training finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait()
        state = progress.load()                              # always a sound file: atomic saves
        assert state is not None, "the killed run left no usable progress file"
        saved_steps.append(state["step"])
        assert not store.entries(), "a killed run must not leave a finished-looking checkpoint"
    assert saved_steps == sorted(saved_steps) and saved_steps[-1] > saved_steps[0], saved_steps  # each resumed
    finished = run_training(tmp_path, stdout=subprocess.PIPE, text=True)
    output, _ = finished.communicate(timeout=300)
    assert finished.returncode == 0 and output.split() == ["trained", "300"], output
    assert not progress.path.exists()
    assert not list(tmp_path.glob(".*.tmp")), "temporaries of killed saves must be cleaned up"
    again = run_training(tmp_path, stdout=subprocess.PIPE, text=True)
    assert again.communicate(timeout=300)[0].split() == ["loaded", "300"]


@pytest.mark.slow
def test_the_same_seed_gives_the_same_numbers(tmp_path):
    from gancourse.attacks import PGD
    from gancourse.data import make_loaders
    from gancourse.evaluate import accuracy
    from gancourse.profiles import PROFILES
    from gancourse.zoo import Zoo

    results = []
    for run in ("first", "second"):
        store = CheckpointStore(tmp_path / run)
        bundle = make_loaders("mnist5k", PROFILES["smoke"], seed=7)
        model, record = Zoo(PROFILES["smoke"], bundle, 7, "cpu", store).classifier("A")
        x, y = bundle.test_images[:64], bundle.test_labels[:64]
        torch.manual_seed(7)
        adversarial = PGD(model, 0.1, 5)(x, y)                # random start: seeded
        results.append((torch.cat([p.flatten() for p in model.state_dict().values()]), adversarial,
                        accuracy(model, adversarial, y), record.metadata["test_accuracy"]))
    first, second = results
    assert torch.equal(first[0], second[0]), "same seed, different weights"
    assert torch.equal(first[1], second[1]) and first[2:] == second[2:]
