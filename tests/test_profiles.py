import pytest

from gancourse.profiles import (
    PROFILE_NAMES,
    PROFILES,
    REFERENCE,
    Profile,
    profile_fields,
    profile_table,
    resolve_profile,
)


def test_table_has_the_three_profiles_in_order():
    assert list(PROFILES) == ["smoke", "cpu", "gpu"]
    assert PROFILE_NAMES == ("smoke", "cpu", "gpu", "auto")
    assert [row["name"] for row in profile_table()] == ["smoke", "cpu", "gpu"]
    assert all(set(row) == set(profile_fields()) for row in profile_table())


def test_each_profile_is_named_after_its_key():
    assert all(profile.name == key for key, profile in PROFILES.items())


@pytest.mark.parametrize("budget", ["batch_size", "classifier_epochs", "gan_iterations", "critic_gan_iterations", "toy_iterations", "loss_comparison_iterations", "projection_steps",
                                    "projection_restarts", "attack_steps", "eval_size", "defense_eval_size", "adaptive_eval_size", "attack_gan_iterations",
                                    "adversarial_epochs", "ape_gan_iterations"])
def test_budgets_grow_from_smoke_to_cpu_to_gpu(budget):
    smoke, cpu, gpu = (getattr(PROFILES[name], budget) for name in ("smoke", "cpu", "gpu"))
    assert 0 < smoke <= cpu <= gpu


def test_data_sizes_grow_and_gpu_uses_everything():
    assert PROFILES["smoke"].train_size < PROFILES["cpu"].train_size
    assert PROFILES["smoke"].test_size < PROFILES["cpu"].test_size
    assert PROFILES["gpu"].train_size is None and PROFILES["gpu"].test_size is None


def test_adaptive_samples_are_a_prefix_of_the_costly_defenses_samples():
    assert all(profile.adaptive_eval_size <= profile.defense_eval_size <= profile.eval_size
               for profile in PROFILES.values())


def test_the_reference_budget_keeps_the_defense_gan_paper_setting_the_gpu_profile_cannot_afford():
    assert (REFERENCE.projection_steps, REFERENCE.projection_restarts) == (200, 10)
    assert PROFILES["gpu"].projection_steps * PROFILES["gpu"].projection_restarts < 200 * 10


def test_auto_picks_gpu_only_with_cuda():
    assert resolve_profile("auto", cuda_available=True) is PROFILES["gpu"]
    assert resolve_profile("auto", cuda_available=False) is PROFILES["cpu"]


def test_explicit_profiles_resolve_to_their_row():
    for name in ("smoke", "cpu"):
        assert resolve_profile(name, cuda_available=False) is PROFILES[name]
    assert resolve_profile("gpu", cuda_available=True) is PROFILES["gpu"]


def test_gpu_without_cuda_is_an_error_that_says_what_to_do():
    with pytest.raises(ValueError, match="needs a CUDA GPU.*profile='cpu'"):
        resolve_profile("gpu", cuda_available=False)


@pytest.mark.parametrize("bad", ["fast", "GPU", "", None, 3])
def test_unknown_profile_names_are_rejected_with_the_choices(bad):
    with pytest.raises(ValueError, match="smoke, cpu, gpu, auto"):
        resolve_profile(bad)


def test_profiles_are_immutable():
    with pytest.raises(AttributeError):
        PROFILES["cpu"].gan_iterations = 1  # type: ignore[misc]
    assert isinstance(PROFILES["cpu"], Profile)
