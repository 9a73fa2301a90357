"""The notebook pipeline and the book's structure."""

import json
import re

import nbformat
import pytest
import yaml

from gancourse.book.copies import RUN_INFO_TAG, code_digest
from gancourse.book.execute import (
    ChapterExecutionError,
    carry_code_forward,
    execute_chapter,
    execute_stale,
    refresh_prose,
    stale_chapters,
    time_chapters,
)
from gancourse.book.layout import BookLayout
from gancourse.book.report import estimate_text, refresh_run_info, slowest_cells, slowest_text, write_execution_report
from gancourse.book.repository import set_repository
from gancourse.book.run_times import format_duration, read_run_times, record_run_time
from gancourse.cli import main
from gancourse.evaluate import sign_test
from gancourse.ledger import Rate, verdict
from gancourse.results import read_recorded


def toc_files(layout):
    toc = yaml.safe_load((layout.root / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc["parts"]:
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


@pytest.mark.book
def test_every_toc_entry_exists(layout):
    generated = {"book/execution_report"}  # written by `gancourse build` from the executed copies
    for entry in toc_files(layout):
        if entry not in generated:
            assert any((layout.root / f"{entry}{suffix}").exists() for suffix in (".md", ".ipynb")), entry


@pytest.mark.book
def test_every_chapter_has_an_executed_copy_in_the_toc(layout):
    assert layout.chapter_sources(), "no chapter notebooks found"
    listed = set(toc_files(layout))
    for source in layout.chapter_sources():
        assert layout.executed_copy(source).exists(), f"{source.name} was never executed (make book)"
        assert f"book/chapters/{source.stem}" in listed, f"{source.stem} is missing from _toc.yml"


@pytest.mark.book
def test_sources_have_no_outputs_and_the_four_parameters(layout):
    for source in layout.chapter_sources():
        notebook = nbformat.read(source, as_version=4)
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        assert all(not cell.outputs and cell.execution_count is None for cell in code), source.name
        parameters = [cell for cell in code if "parameters" in cell.metadata.get("tags", [])]
        assert len(parameters) == 1, f"{source.name} needs exactly one cell tagged 'parameters'"
        for name in ("profile", "dataset", "seed", "weights"):
            assert re.search(rf"^{name} = ", parameters[0].source, re.MULTILINE), f"{source.name}: {name}"
        assert 'profile = "auto"' in parameters[0].source and 'weights = "published"' in parameters[0].source
        assert any("start_chapter(profile, dataset, seed, weights)" in cell.source for cell in code), source.name


@pytest.mark.book
def test_executed_copies_are_up_to_date_and_say_how_they_ran(layout):
    assert stale_chapters(layout) == [], "re-execute with `make book` (code changed since the executed copy)"
    for source in layout.chapter_sources():
        notebook = json.loads(layout.executed_copy(source).read_text())
        info = notebook["metadata"]["gancourse"]
        assert {"profile", "device", "dataset", "seed", "wall_seconds", "versions", "code_digest"} <= set(info)
        assert info["profile"] in ("smoke", "cpu", "gpu") and info["wall_seconds"] > 0
        header = notebook["cells"][1]
        assert RUN_INFO_TAG in header["metadata"]["tags"]
        assert f"Profile **{info['profile']}**" in "".join(header["source"])
        recorded = read_recorded(notebook)
        assert recorded["run_profile"] == info["profile"] and recorded["run_dataset"] == info["dataset"]
        assert not any("injected-parameters" in c["metadata"].get("tags", []) for c in notebook["cells"])


@pytest.mark.book
def test_chapter_00_records_its_key_results(layout):
    recorded = read_recorded(layout.executed_copy(layout.find_chapter("00")))
    assert 0.5 < recorded["ch00_test_accuracy_low"] <= recorded["ch00_test_accuracy"] <= recorded["ch00_test_accuracy_high"]
    assert recorded["ch00_test_accuracy_n"] >= 1000                                        # n stated in the prose
    assert recorded["ch00_retrained_vs_first"] in ("overlap", "higher", "lower")
    assert recorded["ch00_load_seconds"] < recorded["ch00_train_seconds"]
    assert "fashion-mnist" in recorded["ch00_datasets_available"]


def recorded_results(layout, chapter):
    return read_recorded(layout.executed_copy(layout.find_chapter(chapter)))


@pytest.mark.book
def test_chapter_02_shows_the_effects_its_prose_claims(layout):
    r = recorded_results(layout, "02")
    for kind in ("wgan", "wgan_gp"):                                  # verdicts follow the paired t-intervals
        for measure in ("modes", "quality"):
            low, high = r[f"ch02_ring_{kind}_vs_gan_{measure}_low"], r[f"ch02_ring_{kind}_vs_gan_{measure}_high"]
            assert low <= r[f"ch02_ring_{kind}_vs_gan_{measure}"] <= high
            assert r[f"ch02_ring_{kind}_vs_gan_{measure}_verdict"] == (
                "more" if low > 0 else "fewer" if high < 0 else "not shown either way")
    assert 0.8 < r["ch02_fd_dcgan"] / r["ch02_fd_wgan"] < 1.25                 # "end at about the same distance"
    assert r["ch02_fd_gap_low"] < 0 < r["ch02_fd_gap_high"]                    # "within its sampling noise"
    assert r["ch02_ring_wgan_gp_mode_wins"] == 5 and r["ch02_ring_wgan_gp_mode_losses"] == 0  # "5 of 5 seeds"
    assert 0.05 < r["ch02_ring_wgan_gp_mode_sign_p"] < 0.07                    # "just above 0.05"
    assert r["ch02_fd_wgan"] > 3 * r["ch02_fd_floor"]                                       # not at the floor
    assert r["ch02_wgan_seconds"] > 3 * r["ch02_dcgan_seconds"]              # "far ahead", "several times the time"
    assert r["ch02_estimate_final"] < r["ch02_estimate_peak"]                                 # climbs, then falls
    assert r["ch02_corr_after_peak"] > r["ch02_corr_all"]                                     # dragged down by warm-up
    assert r["ch02_sat_d_final"] < 1e-3 and r["ch02_sat_minimax_drop"] > 100    # near-optimal D, "orders of magnitude"
    assert r["ch02_sat_ns_final"] > 10 * r["ch02_sat_minimax_final"]                          # non-saturating keeps growing
    assert r["ch02_sat_critic_kept"] > 0.5                                                    # the critic "keeps" it
    assert r["ch02_ring_wgan_gp_modes_min"] == 8                                  # "all eight modes for every seed"
    assert r["ch02_ring_wgan_gp_vs_gan_modes_verdict"] == "more"
    assert r["ch02_ring_wgan_vs_gan_modes_verdict"] == "not shown either way"     # clipping: "cannot tell"


@pytest.mark.book
def test_chapter_06_defenses_show_what_its_prose_claims(layout):
    r = recorded_results(layout, "06")
    d = lambda defense, measure: r[f"ch06_defense_{defense}_{measure}"]  # noqa: E731
    assert r["ch06_detector_fgsm_rejected_low"] > 0.9 and r["ch06_detector_pgd_rejected_low"] > 0.9   # the net works
    assert r["ch06_detector_false_positive_high"] < 0.05 and r["ch06_detector_deepfool_rejected_high"] < 0.3
    assert r["ch06_detector_adaptive_correct_high"] < 0.3                                      # "not much of a barrier"
    detector_robust = r["ch06_detector_adaptive_correct"] + r["ch06_detector_adaptive_rejected"]
    assert abs(detector_robust - r["ch06_detector_same_attack_alone"]) < 0.05          # "about as easy as one"
    assert r["ch06_substitute_accuracy_high"] < r["ch06_clean_accuracy_A"]            # the black box is fooled
    assert r["ch06_targeted_fgsm_high"] < r["ch06_untargeted_fgsm_low"]                # "a far easier goal"
    assert r["ch06_fgsm_accuracy_03_A_high"] < r["ch06_fgsm_accuracy_A_low"]           # falls with ε
    assert d("static", "fgsm") < d("fgsm", "fgsm") and d("static", "pgd") < d("fgsm", "pgd")
    assert d("static", "cw_fooled") > 0.99                                             # "C&W still fools every image"
    for trained in ("fgsm", "pgd"):
        assert d(trained, "fgsm") > d(trained, "pgd") and d(trained, "clean") < d("none", "clean")  # specific, costly
    assert d("fgsm", "pgd") > d("none", "pgd") + 0.1                                   # "far better than no defense"
    for defense in ("none", "static", "fgsm", "pgd", "distilled"):                     # "worst": every row at once
        assert d(defense, "worst") <= min(d(defense, "fgsm"), d(defense, "pgd"), d(defense, "margin"))
    assert d("pgd", "cw_l2") > d("none", "cw_l2")
    assert d("distilled", "pgd") >= d("distilled", "fgsm") - 0.05                       # PGD no stronger than FGSM
    assert d("distilled", "pgd") > d("pgd", "pgd")                                     # "looks more robust than PGD training"
    assert r["ch06_distilled_vanished"] > 0.5                                          # "for most images"
    assert r["ch06_distilled_margin_pgd"] < d("distilled", "pgd") - 0.3                 # the masking exposed
    n = r["ch06_defense_n"]                                                            # the ledger's black-box row
    black_box = verdict("similar", Rate.of(r["ch06_distilled_transfer"], n),
                        Rate.of(r["ch06_transfer_control_accuracy"], n))
    assert r["ch06_claim_7_verdict"] == black_box
    assert not r["ch06_fgsm_training_catastrophic"]


@pytest.mark.book
def test_chapter_06_attack_comparisons_follow_their_tests(layout):
    r = recorded_results(layout, "06")
    assert r["ch06_pgd_accuracy_03_A"] <= r["ch06_fgsm_accuracy_03_A"]                 # "an upper bound"
    cw, lbfgs = r["ch06_lbfgs_cw_cw_smaller"], r["ch06_lbfgs_cw_lbfgs_smaller"]
    assert cw + lbfgs <= r["ch06_lbfgs_cw_both"] and r["ch06_lbfgs_cw_p"] == sign_test(cw, lbfgs)
    ordered = r["ch06_lbfgs_cw_p"] < 0.05
    assert (r["ch06_lbfgs_cw_order"] == "not ordered by this run") == (not ordered)
    assert not ordered or r["ch06_lbfgs_cw_order"].startswith("C&W" if cw > lbfgs else "L-BFGS")


@pytest.mark.book
def test_chapter_09_shows_the_effects_its_prose_claims(layout):
    r = recorded_results(layout, "09")
    assert r["ch09_clean_orig_A"] < r["ch09_clean_none_A"] - 0.1                           # "expensive here"
    for model in "AB":                                                                     # Rec's clean recovery
        assert r[f"ch09_clean_orig_{model}"] <= r[f"ch09_clean_rec_{model}"] < r[f"ch09_clean_none_{model}"] - 0.05
    assert r["ch09_clean_rec_vs_orig_p_A"] == r["ch09_clean_rec_vs_orig_min_p"] < 0.05 / 4  # A: measurably, Bonferroni
    assert r["ch09_clean_rec_vs_orig_p_B"] > 0.05                                          # B: not
    rec, orig = Rate.of(r["ch09_rec_FGSM_A"], r["ch09_eval_size"]), Rate.of(r["ch09_white_FGSM_A_Defense_GAN_Orig"],
                                                                          r["ch09_eval_size"])
    assert rec.value > orig.value and rec.interval[0] <= orig.interval[1]              # "the intervals just overlap"
    rec, orig = Rate.of(r["ch09_rec_C_W_L2_A"], r["ch09_eval_size"]), Rate.of(r["ch09_white_C_W_L2_A_Defense_GAN_Orig"],
                                                                            r["ch09_eval_size"])
    assert rec.interval[0] <= orig.interval[1] and orig.interval[0] <= rec.interval[1]  # "the intervals overlap"
    assert r["ch09_white_C_W_L2_A_Defense_GAN_Orig"] > r["ch09_white_C_W_L2_A_none"] + 0.3  # removes small ones
    assert r["ch09_white_FGSM_A_Defense_GAN_Orig"] < r["ch09_clean_orig_A"] - 0.3          # not large ones
    assert r["ch09_white_C_W_L2_A_adv_training"] < 0.05 and r["ch09_white_C_W_L2_A_none"] < 0.05  # C&W fools both
    assert r["ch09_auc_Defense_GAN_FGSM"] > r["ch09_auc_Defense_GAN_C_W_L2"]               # detects large ones
    for attack in ("FGSM", "RAND_FGSM"):                                      # MagNet "wholly above"
        assert r[f"ch09_auc_MagNet_{attack}_low"] > r[f"ch09_auc_Defense_GAN_{attack}_high"]
    low_gap = r["ch09_auc_MagNet_C_W_L2_low"] - r["ch09_auc_Defense_GAN_C_W_L2_high"]
    assert 0 < low_gap < 0.02                                                          # C&W: "only just"
    assert r["ch09_auc_Defense_GAN_C_W_L2_low"] < 0.55                                     # "hardly above a coin's 0.5"
    assert r["ch09_grid_large_err"] < r["ch09_grid_small_err"]                             # the fit improves with L, R
    assert r["ch09_grid_longer_is"] == "lower"                                             # the over-fitting remark
    assert r["ch09_grid_clean_longer_is"] == "higher"                                      # the clean control
    assert r["ch09_latent_kappa_vs_zero"] == "lower"                                       # κ > 0 is stronger
    assert r["ch09_restart_spread"] > 2                                                    # "very different errors"
    assert r["ch09_latent_mse"] > 2 * 0.005                                                # "several times larger"
    for eps in ("10", "30"):                                                               # BPDA no stronger than FGSM
        assert r[f"ch09_eps{eps}_bpda_vs_fgsm"] == "overlap"
        assert r[f"ch09_eps{eps}_worst_case_bounded_Defense_GAN_Orig"] < r[f"ch09_eps{eps}_FGSM_Defense_GAN_Orig"]
    assert r["ch09_eps10_clean_Defense_GAN_Orig"] != r["ch09_eps30_clean_Defense_GAN_Orig"]  # a random decision
    assert r["ch09_red_flags"] >= 2
    assert r["ch09_paper_vs_profile_fgsm"] == r["ch09_paper_vs_profile_clean"] == "overlap"  # "neither resolved"
    assert abs(r["ch09_eps10_BPDA_PGD_10_Defense_GAN_Orig"] - r["ch09_eps10_clean_Defense_GAN_Orig"]) < 0.05  # "about
    # as much as the clean images keep": at the book's ε the BPDA row barely attacks
    assert r["ch09_paper_setting_fgsm"] < r["ch09_profile_setting_fgsm"]                # "lower on FGSM,
    assert r["ch09_paper_setting_clean"] > r["ch09_profile_setting_clean"]              #  higher on clean"


@pytest.mark.book
def test_chapter_03_augmentation_verdicts_follow_their_intervals(layout):
    r = recorded_results(layout, "03")
    assert r["ch03_aug_seeds"] >= 5 and r["ch03_aug_test_images"] >= 2000                  # n stated in the prose
    for arm in ("shift", "few", "full", "only"):
        low, high = r[f"ch03_aug_{arm}_diff_low"], r[f"ch03_aug_{arm}_diff_high"]
        assert low <= r[f"ch03_aug_{arm}_diff"] <= high
        assert r[f"ch03_aug_{arm}_verdict"] == ("helps" if low > 0 else "hurts" if high < 0 else "not shown either way")
    low, high = r["ch03_aug_few_vs_shift_low"], r["ch03_aug_few_vs_shift_high"]
    assert r["ch03_aug_few_vs_shift_verdict"] == ("helps" if low > 0 else "hurts" if high < 0 else "not shown either way")
    assert r["ch03_few_generated_gap"] > r["ch03_few_test_gap"]          # "farther ... than new real images do"
    assert r["ch03_aug_shift_verdict"] == r["ch03_aug_few_verdict"] == "not shown either way"   # "no augmentation
    assert r["ch03_aug_full_verdict"] != "helps"                                   # measurably helped"
    assert r["ch03_aug_only_verdict"] == "hurts"                                   # samples alone teach less


@pytest.mark.book
def test_chapter_03_fidelity_and_speed_claims_follow_their_intervals(layout):
    r = recorded_results(layout, "03")
    assert r["ch03_fd_final_gap_low"] > 0 and r["ch03_cgan_ahead_from"] > 0   # "reaches a given distance in fewer steps"
    assert r["ch03_fd_final_gap_low"] <= r["ch03_fd_final_gap"] <= r["ch03_fd_final_gap_high"]
    assert 0 < r["ch03_cgan_reaches_dcgan_final_at"] < r["ch03_dcgan_steps"]
    for key in ("ch03_mix_effect", "ch03_gap_at_dcgan_mix"):                     # the class-mix control
        assert r[f"{key}_low"] <= r[key] <= r[f"{key}_high"]
    assert r["ch03_mix_verdict_fd"].startswith("the class mix does not") == (r["ch03_gap_at_dcgan_mix_low"] > 0)
    separated = r["ch03_mix_effect_low"] > 0 or r["ch03_mix_effect_high"] < 0
    assert (r["ch03_mix_effect_separated"] == "beyond resampling noise") == separated
    assert r["ch03_mix_effect_share_max"] == pytest.approx(max(r["ch03_mix_effect_high"], 0) / r["ch03_fd_final_gap"])
    assert r["ch03_fidelity_worst_real_low"] <= r["ch03_fidelity_worst_real"] <= r["ch03_fidelity_worst_real_high"]
    assert r["ch03_classifier_real_accuracy_n"] == 10_000                         # all real test images
    assert (r["ch03_dcgan_class_share_min"] > 0.01) == r["ch03_dcgan_mix_verdict"].startswith("No class is missing")
    assert 0.5 < r["ch03_pairs_true_preferred_low"] and r["ch03_pairs_true_preferred"] < 0.75   # "above 50%, far from always"
    compared, cgan, dcgan = (r[f"ch03_perclass_{key}"] for key in ("compared", "cgan_closer", "dcgan_closer"))
    assert cgan + dcgan <= compared and r["ch03_perclass_n"] >= 100                # exercise ex03-perclass
    assert (r["ch03_perclass_verdict"] == "the cGAN's lead holds class by class, not only in the mix") == (
        dcgan == 0 and cgan >= compared / 2)
    floors = r["ch03_perclass_floor_mean"], r["ch03_fd_floor"]
    assert abs(floors[0] - floors[1]) < 0.25 * max(floors)                          # "the two pull about evenly"


@pytest.mark.book
def test_chapter_04_shows_the_effects_its_prose_claims(layout):
    r = recorded_results(layout, "04")
    assert r["ch04_cycle_A_to_B_seen_as_B_low"] > 0.8 > 0.1 > r["ch04_before_a_as_b_high"]  # it translates
    assert r["ch04_cycle_B_to_A_seen_as_A_low"] > 0.8 > 0.1 > r["ch04_before_b_as_a_high"]
    assert r["ch04_cycle_cycle_error_A"] < r["ch04_cycle_change_A_to_B"] / 2               # a change it can undo
    assert r["ch04_nocycle_A_to_B_seen_as_B_low"] > 0.8                                   # B-looking without the cycle
    assert r["ch04_nocycle_cycle_error_A"] > 2 * r["ch04_cycle_cycle_error_A"]            # but the way back is lost
    assert r["ch04_nocycle_diversity_A_to_B"] < 0.6 * r["ch04_cycle_diversity_A_to_B"]    # and it collapses


@pytest.mark.book
def test_chapter_05_shows_the_effects_its_prose_claims(layout):
    r = recorded_results(layout, "05")
    assert r["ch05_fd_floor"] * 3 < min(r["ch05_fd_dcgan"], r["ch05_fd_stylegan"])        # neither at the floor
    assert r["ch05_smallest_share_low"] > 0.04                                              # "no class is missing"
    assert r["ch05_largest_share_low"] > r["ch05_real_share_max_high"]                      # "above ... any class"
    assert r["ch05_mix_follows_b_coarse"] > 0.5                                            # coarse styles carry the class
    assert max(r["ch05_mix_follows_b_middle_high"], r["ch05_mix_follows_b_fine_high"]) < r["ch05_mix_follows_b_coarse_low"] / 3
    assert r["ch05_mix_shape_b_coarse_low"] > 0.9 > 0.1 > r["ch05_mix_shape_b_middle_high"]  # coarse carry the shape
    assert 0.5 < r["ch05_mix_brightness_b_coarse"] < 0.75 < r["ch05_mix_shape_b_coarse"]  # "only somewhat above a half"
    assert max(r["ch05_mix_brightness_b_middle_high"], r["ch05_mix_brightness_b_fine_high"]) < 0.5  # "keeps A's"
    assert r["ch05_mix_keeps_a_fine_low"] > 0.5 > r["ch05_mix_keeps_a_coarse_high"]
    changes = [r[f"ch05_mix_change_{g}"] for g in ("coarse", "middle", "fine")]
    assert changes[0] > changes[1] > changes[2]                                            # "falls in the same order"
    assert 0.5 < r["ch05_noise_class_kept_low"] and r["ch05_noise_class_kept_high"] < 1     # mostly kept, not always
    assert r["ch05_noise_images_changed"] >= 1
    diversity = [r[f"ch05_truncation_diversity_{p}"] for p in (100, 70, 50, 0)]
    distance = [r[f"ch05_truncation_fd_{p}"] for p in (100, 70, 50, 0)]
    assert diversity == sorted(diversity, reverse=True) and distance == sorted(distance)  # "rises"
    assert r["ch05_ppl_w"] < r["ch05_ppl_z"]                                              # the paper's direction


@pytest.mark.book
def test_chapter_07_shows_the_effects_its_prose_claims(layout):
    r = recorded_results(layout, "07")
    assert r["ch07_untargeted_A"] > 0.3 and r["ch07_ratio_advgan_fgsm"] < 1                 # works, faster than FGSM
    assert r["ch07_ablation_l2_no_L_hinge_0"] > r["ch07_ablation_l2_full_objective"]      # the hinge bounds ℓ2
    static_gap = r["ch07_black_box_static_student"] - r["ch07_black_box_static"]           # student → black box
    assert r["ch07_black_box_dynamic_student"] - r["ch07_black_box_dynamic"] < static_gap / 2  # "closes most of that gap"
    assert r["ch07_distillation_verdict"] in ("overlap", "mixed")                         # "no consistent order"
    assert r["ch07_claim_0_verdict"] == "contradicted"                                    # not "as high as PGD"
    assert {r[f"ch07_claim_{i}_verdict"] for i in (2, 3, 4)} == {"contradicted"}         # "fails here outright"
    assert r["ch07_defense_Iter_Adv_AdvGAN"] < 0.1                                        # "almost never succeeds"
    assert r["ch07_ablation_l2_full_objective"] < r["ch07_c"] < r["ch07_ablation_l2_no_L_hinge_0"]  # the hinge sets ℓ2
    assert r["ch07_ablation_vs_full_no_L_hinge_0"] == "overlap"                           # "not measurably different"
    assert r["ch07_black_box_static_student_vs_black_box"] == "higher"                    # the student flatters it
    assert r["ch07_black_box_dynamic_student_vs_black_box"] == "overlap"                  # "about as often"
    spread = max(r["ch07_black_box_dynamic_spread"], r["ch07_black_box_static_spread"])    # "comparable to the gap"
    assert spread > 0.5 * abs(r["ch07_black_box_dynamic"] - r["ch07_black_box_static"])
    assert r["ch07_reference_vs_budget_p"] < 0.05 and r["ch07_reference_only"] > r["ch07_budget_only"]  # image by image
    for other in ("Adv", "Ens"):                                                          # PGD training holds best
        assert r[f"ch07_defense_Iter_Adv_vs_{other}_robust"] == "higher"
    for attack in ("FGSM", "PGD", "AdvGAN"):                                                # every defense helps
        assert all(r[f"ch07_defense_{d}_{attack}"] < r[f"ch07_defense_none_{attack}"] for d in ("Adv", "Ens", "Iter_Adv"))
    assert r["ch07_curve_verdict"].startswith("it rose by less") == (r["ch07_curve_last"] - r["ch07_curve_before"] < 0.01)


@pytest.mark.book
def test_chapter_08_shows_the_effects_its_prose_claims(layout):
    r = recorded_results(layout, "08")
    for key in ("budget", "reference"):                                                   # verdicts follow the counts
        wins, losses, p = (r[f"ch08_paired_{key}_{part}"] for part in ("wins", "losses", "p"))
        assert r[f"ch08_paired_{key}_verdict"].startswith("no difference") == (p >= 0.05)
    assert r["ch08_paired_reference_p"] < 0.05 and r["ch08_paired_reference_wins"] > r["ch08_paired_reference_losses"]
    assert r["ch08_reference_vs_budget"] == "higher"                                      # the long training pays
    assert r["ch08_curve_verdict"].startswith("no longer") == (r["ch08_curve_last"] - r["ch08_curve_before"] < 0.01)
    assert r["ch08_aigan_step_ms"] > r["ch08_advgan_step_ms"] and r["ch08_aigan_minutes"] < r["ch08_advgan_minutes"]
    assert max(r["ch08_ms_aigan"], r["ch08_ms_advgan"]) < r["ch08_ms_fgsm"]
    assert r["ch08_grid_fewest"] == min(r["ch08_grid_hits"]) < max(r["ch08_grid_hits"]) == r["ch08_grid_most"]
    for d in ("Adv", "Ens", "Iter_Adv"):
        assert r[f"ch08_fair_verdict_{d}"] != "higher"                                    # "did not outperform"
    assert r["ch08_claim_0_verdict"] == "supported"                                      # far more than noise
    per_seed = {"overlap": "not shown", "lower": "contradicted", "higher": "supported", "mixed": "mixed"}
    assert [r[f"ch08_claim_{i}_verdict"] for i in (2, 3, 4)] == [                      # the ledger judges all seeds
        per_seed[r[f"ch08_fair_verdict_{d}"]] for d in ("Adv", "Ens", "Iter_Adv")]
    assert r["ch08_claim_1_verdict"] == ("consistent" if r["ch08_paired_budget_p"] >= 0.05 else "contradicted")
    assert r["ch08_fair_below_pgd"] == "every"


@pytest.mark.book
def test_chapter_10_shows_the_effects_its_prose_claims(layout):
    from gancourse.ledger import Rate, separation

    r = recorded_results(layout, "10")
    n = r["ch10_n"]
    e = lambda attack, model="A", kind="ape": r[f"ch10_error_{attack}_{model}_{kind}"]  # noqa: E731
    rate = lambda value: Rate.of(value, n)  # noqa: E731
    attacks = ("FGSM", "PGD", "DeepFool", "JSMA", "L_BFGS", "C_W_L2")
    for model in "ABC":
        assert separation(rate(e("clean", model)), rate(e("clean", model, "base"))) == "overlap"  # a small clean cost
        assert e("FGSM", model) < e("FGSM", model, "base") - 0.3                           # a large drop
        assert e("FGSM", model) > e("clean", model) + 0.15                                # "far from the clean error"
        kept = sorted(attacks, key=lambda a, m=model: -e(a, m))[:3]                       # the three that keep most
        assert set(kept) == {"FGSM", "PGD", "JSMA"}
    assert abs(e("PGD") - e("FGSM")) < 0.1                                                 # PGD about as well
    for attack in ("DeepFool", "L_BFGS", "C_W_L2"):                                        # near the clean error
        assert e(attack) < e(attack, kind="base") and e(attack) - e("clean") < 0.06
    assert r["ch10_not_lowered"] == "none"                                                # every pair separated
    assert r["ch10_weighting_lecture_MSE_clean_in"] > r["ch10_weighting_official_MSE_clean_in"]
    assert r["ch10_weightings_fgsm"] == "overlap"                                         # "cannot be told apart"
    assert r["ch10_fgsm_coherence"] > r["ch10_clean_coherence"]
    assert max(r[f"ch10_weighting_{w}_coherence_FGSM_in"] for w in ("lecture", "official")) < r["ch10_fgsm_coherence"]
    assert r["ch10_adaptive_PGD_through_G"] < r["ch10_accuracy_PGD_A_ape"] - 0.3          # the adaptive attack
    assert r["ch10_adaptive_PGD_with_BPDA"] > r["ch10_adaptive_PGD_through_G"]              # BPDA is weaker here
    assert [r[f"ch10_claim_{i}_verdict"] for i in range(6)] == ["supported"] * 6            # the ledger's six rows
    assert r["ch10_claim_7_verdict"] == "consistent"                      # C&W through G "as C&W leaves the undefended"
    assert r["ch10_claim_8_verdict"] == "supported"                       # strong PGD through G far below oblivious PGD
    assert r["ch10_adaptive_C_W_L2_through_G"] == 0                                       # "reaching every image"
    assert r["ch10_adaptive_C_W_L2_through_G_l2"] > r["ch10_oblivious_cw_l2"]              # "somewhat larger"
    assert 0 < r["ch10_adaptive_PGD_through_G"] < 0.15                                    # "leaves a few percent"
    strong = r["ch10_adaptive_strong_PGD_through_G"]
    assert strong < 0.15                                                                  # "the strong PGD's few percent"
    assert separation(rate(strong), rate(r["ch10_adaptive_PGD_through_G"])) == "overlap"   # "change little"
    assert separation(rate(strong), rate(1 - e("PGD", kind="base"))) == "higher"          # "lie above that"
    sweep = [r[f"ch10_sweep_{tag}"] for tag in ("05", "10", "20", "30")]
    assert sweep == sorted(sweep, reverse=True) and sweep[1] == strong                    # falls as ε grows
    assert r["ch10_sweep_reaches_zero"] == "reaches" and min(sweep) <= 0.02               # "it reaches zero"
    assert 0.8 < e("DeepFool", "B", "base") < 0.99                                        # "does not quite reach 100%"


@pytest.mark.book
def test_chapter_11_shows_the_effects_its_prose_claims(layout):
    r = recorded_results(layout, "11")
    assert r["ch11_AdvGAN_detector_low"] < r["ch11_AdvGAN_none_high"]                   # "does not catch AdvGAN"
    assert r["ch11_AI_GAN_detector_low"] > r["ch11_AI_GAN_none_high"]                   # "catches AI-GAN in part"
    for d in ("MagNet", "APE_GAN", "detector", "distillation"):             # oblivious rows flatter them
        assert r[f"ch11_adaptive_{d}_high"] < r[f"ch11_PGD_20_{d}_low"]
    for d in ("none", "FGSM_adv_training", "distillation", "detector", "MagNet", "APE_GAN"):  # PGD training holds
        assert r["ch11_worst_case_bounded_PGD_adv_training_low"] > r[f"ch11_worst_case_bounded_{d}_high"]
    assert r["ch11_clean_PGD_adv_training_high"] < r["ch11_clean_none_low"]             # at a clean price
    assert {r["ch11_best_worst"], r["ch11_runner_up_worst"]} == {"PGD adv. training", "Defense-GAN"}
    assert not r["ch11_best_separated"]                                                # "their intervals overlap"
    assert r["ch11_AdvGAN_detector_low"] <= r["ch11_AdvGAN_none_high"]                 # the detector misses AdvGAN
    for attack in ("substitute_black_box", "AdvGAN", "AI_GAN"):                         # transfer is weaker
        assert r[f"ch11_{attack}_none_low"] > r["ch11_PGD_20_none_high"]
    assert r["ch11_l2_C_W_L2_none"] < r["ch11_l2_C_W_L2_FGSM_adv_training"] < r["ch11_l2_C_W_L2_PGD_adv_training"]
    assert r["ch11_FGSM_Defense_GAN"] <= r["ch11_adaptive_Defense_GAN"]                # the Defense-GAN flag: one
    assert r["ch11_adaptive_Defense_GAN_low"] <= r["ch11_FGSM_Defense_GAN_high"]       # call each, not separated,
    assert r["ch11_dg_adaptive_verdict"].endswith("not distinguishable from FGSM")     # nor pair by pair
    assert r["ch11_dg_every_call"] < r["ch11_dg_first_call"] and r["ch11_dg_changed"] > 0.05   # a random decision
    assert r["ch11_dg_adaptive_weaker"] == 0 and r["ch11_dg_strongest_expected"].startswith("adaptive")  # measured
    assert "weaker" not in r["ch11_dg_adaptive_verdict"]                                # "weaker than no row"
    assert r["ch11_dg_expected_adaptive_PGD_20_2_high"] < r["ch11_dg_expected_clean"]  # it moves the defense, a little
    assert r["ch11_dg_expected_adaptive_PGD_20_2_low"] > 0.5
    assert r["ch11_worst_case_bounded_Defense_GAN"] < min(r[f"ch11_{a}_Defense_GAN"] for a in ("FGSM", "adaptive"))
    sweep = r["ch11_sweep_Defense_GAN"]                                            # falls, but not to 0 at 0.5
    assert sweep == sorted(sweep, reverse=True) and sweep[-1] > 0.05 and r["ch11_sweep_flags"] == 1  # "one flag"
    assert [round(v * r["ch11_sweep_n"]) for v in sweep] == [12, 8, 7]                 # the counts the prose gives
    for d in ("none", "FGSM_adv_training", "PGD_adv_training", "distillation", "detector", "MagNet", "APE_GAN"):
        assert r[f"ch11_sweep_{d}"][1] == 0                                            # "0 by ε = 0.3"


@pytest.mark.book
def test_the_repository_url_is_the_same_everywhere(layout):
    config = yaml.safe_load((layout.root / "_config.yml").read_text())
    url = config["repository"]["url"]
    notebooks = [*layout.chapter_sources(), *layout.executed.glob("*.ipynb")]
    for notebook in notebooks:
        for found in re.findall(r"git\+(https://[^\s\"'\\]+)", notebook.read_text()):
            assert found == url, f"{notebook}: {found} != {url}; run `gancourse set-repository {url}`"


@pytest.mark.book
def test_the_book_never_executes_notebooks_itself(layout):
    config = yaml.safe_load((layout.root / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"


def write_notebook(path, code_cells, title="# 01 · A tiny chapter"):
    cells = [nbformat.v4.new_markdown_cell(title),
             nbformat.v4.new_code_cell('profile = "auto"\ndataset = "mnist5k"\nseed = 0',
                                       metadata={"tags": ["parameters"]})]
    cells += [nbformat.v4.new_code_cell(source) for source in code_cells]
    cells.append(nbformat.v4.new_markdown_cell("The end."))
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def tiny_layout(tmp_path):
    layout = BookLayout(tmp_path)
    write_notebook(layout.sources / "01_tiny.ipynb", [
        "from gancourse.runtime import start_chapter\nrun = start_chapter(profile, dataset, seed)",
        "from gancourse.results import record\nrecord('tiny_answer', 6 * 7)",
    ])
    return layout


@pytest.mark.slow
@pytest.mark.book
def test_executing_a_chapter_writes_a_stamped_copy(tiny_layout):
    source = tiny_layout.find_chapter("1")
    assert stale_chapters(tiny_layout) == [source]
    executed = execute_chapter(tiny_layout, source, profile="smoke", seed=3)
    notebook = nbformat.read(executed, as_version=4)
    info = notebook.metadata.gancourse
    assert (info.profile, info.dataset, info.seed) == ("smoke", "mnist5k", 3)
    assert info.parameters == {"profile": "smoke", "seed": 3}
    assert notebook.cells[0].source.startswith("# 01")
    assert RUN_INFO_TAG in notebook.cells[1].metadata.tags
    assert "seed **3**" in notebook.cells[1].source
    assert read_recorded(executed)["tiny_answer"] == 42
    assert info.code_digest == code_digest(nbformat.read(source, as_version=4))
    assert stale_chapters(tiny_layout) == []
    assert not (tiny_layout.failed / source.name).exists()

    report = write_execution_report(tiny_layout).read_text()
    assert "| [01_tiny](chapters/01_tiny) | smoke |" in report

    notebook_source = nbformat.read(source, as_version=4)
    notebook_source.cells[-1].source = "The end, reworded."
    nbformat.write(notebook_source, source)
    assert stale_chapters(tiny_layout) == []
    assert execute_stale(tiny_layout, "smoke") == []                     # prose copied over, nothing executed
    assert nbformat.read(executed, as_version=4).cells[-1].source == "The end, reworded."
    assert not refresh_prose(tiny_layout, source)

    notebook_source.cells[3].source += "\nprint('changed code')"
    nbformat.write(notebook_source, source)
    assert stale_chapters(tiny_layout) == [source]


@pytest.mark.book
def test_code_carried_forward_is_said_on_the_page_until_the_next_execution(tiny_layout):
    source = tiny_layout.find_chapter("01")
    executed = execute_chapter(tiny_layout, source, profile="smoke")
    outputs = [cell.get("outputs") for cell in nbformat.read(executed, as_version=4).cells]
    run_digest = nbformat.read(executed, as_version=4).metadata.gancourse.code_digest
    notebook_source = nbformat.read(source, as_version=4)
    notebook_source.cells[3].source = notebook_source.cells[3].source.replace("6 * 7", "42")
    nbformat.write(notebook_source, source)
    with pytest.raises(ValueError, match="--reason"):
        carry_code_forward(tiny_layout, source, "  ")
    carry_code_forward(tiny_layout, source, "an API rename")
    assert stale_chapters(tiny_layout) == []
    carried = nbformat.read(executed, as_version=4)
    assert carried.cells[4].source.endswith("record('tiny_answer', 42)")            # the new code ...
    assert [cell.get("outputs") for cell in carried.cells] == outputs                # ... the old outputs
    assert carried.metadata.gancourse.code_changed_since_run.run_code_digest == run_digest
    refresh_run_info(tiny_layout)
    header = nbformat.read(executed, as_version=4).cells[1].source
    assert "changed after this run" in header and "an API rename" in header
    assert "Slowest cells in this run (their code as it was then):" in header
    notebook_source.cells.append(nbformat.v4.new_code_cell("print('a new cell')"))
    nbformat.write(notebook_source, source)
    with pytest.raises(ChapterExecutionError, match="re-execute"):
        carry_code_forward(tiny_layout, source, "cells added")
    execute_chapter(tiny_layout, source, profile="smoke")
    fresh = nbformat.read(executed, as_version=4)
    assert "code_changed_since_run" not in fresh.metadata.gancourse and "changed after" not in fresh.cells[1].source


@pytest.mark.book
@pytest.mark.slow
def test_run_times_per_profile_reach_the_page_header_and_the_report(tiny_layout, tmp_path):
    source = tiny_layout.find_chapter("01")
    executed = execute_chapter(tiny_layout, source, profile="smoke")
    smoke = read_run_times(tiny_layout)["01_tiny"]["smoke"]
    info = nbformat.read(executed, as_version=4).metadata.gancourse
    assert smoke["wall_seconds"] == info.wall_seconds and smoke["models_trained"] == info.models_trained == 0
    header = nbformat.read(executed, as_version=4).cells[1].source
    assert f"smoke {format_duration(smoke['wall_seconds'])}" in header and "cpu not measured yet" in header

    scratch = tmp_path / "timing"
    (scratch / "checkpoints").mkdir(parents=True)
    (scratch / "checkpoints" / "left-over.pt").write_bytes(b"old")
    published = executed.read_text()
    seconds = time_chapters(tiny_layout, [source], "smoke", scratch)
    assert executed.read_text() == published                     # the published copy is not touched
    assert not (scratch / "checkpoints" / "left-over.pt").exists()  # cold: the store starts empty
    assert read_run_times(tiny_layout)["01_tiny"]["smoke"]["wall_seconds"] == round(seconds["01_tiny"], 1)

    record_run_time(tiny_layout, "01_tiny", {**info, "profile": "cpu", "wall_seconds": 800.0, "models_trained": 2})
    assert refresh_run_info(tiny_layout) == 1 and refresh_run_info(tiny_layout) == 0
    header = nbformat.read(executed, as_version=4).cells[1].source
    assert "cpu 13 min 20 s (" in header and "2 models trained" in header and "earlier version" not in header
    record_run_time(tiny_layout, "01_tiny", {**info, "profile": "gpu", "wall_seconds": 60.0, "models_trained": 0,
                                             "code_digest": "an older chapter", "executed_at": "2026-01-02 03:04 UTC"})
    assert refresh_run_info(tiny_layout) == 1                  # a run of other code is labelled, with its date
    header = nbformat.read(executed, as_version=4).cells[1].source
    assert "gpu 1 min 0 s (" in header and "an earlier version of this chapter, 2026-01-02)" in header
    report = write_execution_report(tiny_layout).read_text()
    assert "| 01_tiny | " in report and "| **whole book** |" in report
    assert "- cpu: whole book 13 min 20 s (target 120 min 0 s), longest chapter 13 min 20 s (target 12 min 0 s) — NOT met." in report
    assert "- smoke: whole book" in report and "— met." in report

    trained = time_chapters(tiny_layout, [source], "smoke", scratch, weights="train")   # the other cold time
    runs = read_run_times(tiny_layout)["01_tiny"]
    assert runs["smoke/train"]["wall_seconds"] == round(trained["01_tiny"], 1) and "smoke" in runs
    report = write_execution_report(tiny_layout).read_text()
    assert '| chapter | smoke | smoke with weights="train" | cpu |' in report
    assert refresh_run_info(tiny_layout) == 1
    assert 'smoke with weights="train" ' in nbformat.read(executed, as_version=4).cells[1].source
    tiny_layout.cost_estimates.write_text(json.dumps({"chapters": {"01_tiny": {
        "gpu/published": {"seconds": {"T4": 90.0}}, "gpu/train": {"seconds": {"T4": 4000.0}}}}}))
    assert refresh_run_info(tiny_layout) == 1                                 # the estimate reaches the header
    assert "heavy loops take 1 min 30 s with the published weights" in nbformat.read(executed, as_version=4).cells[1].source


@pytest.mark.book
@pytest.mark.slow
def test_a_failing_chapter_is_named_and_the_good_copy_kept(tiny_layout):
    source = tiny_layout.find_chapter("01_tiny")
    good = execute_chapter(tiny_layout, source, profile="smoke")
    before = good.read_text()
    write_notebook(source, ["from gancourse.runtime import start_chapter\nrun = start_chapter(profile, dataset, seed)",
                            "raise ValueError('the model diverged')"])
    with pytest.raises(ChapterExecutionError, match=r"chapter 01_tiny failed in cell .*ValueError: the model diverged"):
        execute_chapter(tiny_layout, source, profile="smoke")
    assert good.read_text() == before
    assert (tiny_layout.failed / source.name).exists()


@pytest.mark.book
def test_a_chapter_that_never_starts_is_refused(tiny_layout):
    source = write_notebook(tiny_layout.sources / "02_nostart.ipynb", ["x = 1"])
    with pytest.raises(ChapterExecutionError, match="never called gancourse.runtime.start_chapter"):
        execute_chapter(tiny_layout, source, profile="smoke")


def test_unknown_chapters_are_reported_with_the_list(tiny_layout):
    with pytest.raises(ValueError, match="no chapter '99'; the chapters are: 01_tiny"):
        tiny_layout.find_chapter("99")


def test_the_cli_reports_errors_in_one_line(capsys):
    assert main(["execute", "99", "--profile", "smoke"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("gancourse execute: ValueError: no chapter '99'") and len(error.strip().splitlines()) == 1
    assert "--debug" in error


def test_the_cli_shows_the_traceback_with_debug(capsys):
    with pytest.raises(ValueError, match="no chapter '99'") as raised:
        main(["--debug", "execute", "99", "--profile", "smoke"])
    frames = [entry.frame.code.name for entry in raised.traceback]
    assert "main" in frames and frames[-1] == "find_chapter"      # the whole way down, not one line
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("seconds, text", [(12.34, "12.3 s"), (59.94, "59.9 s"), (75.2, "1 min 15 s"),
                                           (3600, "60 min 0 s")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.book
def test_set_repository_changes_the_config_and_every_install_cell(tmp_path, layout):
    copy = BookLayout(tmp_path)
    (tmp_path / "_config.yml").write_text((layout.root / "_config.yml").read_text())
    for source in layout.chapter_sources():
        target = copy.sources / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.read_text())
    assert set_repository(copy, "https://github.com/someone/fork/") == len(layout.chapter_sources())
    assert yaml.safe_load((tmp_path / "_config.yml").read_text())["repository"]["url"] == \
        "https://github.com/someone/fork"
    texts = [path.read_text() for path in copy.chapter_sources()]
    assert all("git+https://github.com/someone/fork\\\"" in text for text in texts)
    with pytest.raises(ValueError, match="https://"):
        set_repository(copy, "github.com/no-scheme")


@pytest.mark.book
def test_chapter_01_latent_walk_shows_what_its_prose_claims(layout):
    r = recorded_results(layout, "01")
    assert abs(r["ch01_norm_endpoints"] - 10) < 1                                    # ≈ √100
    assert abs(r["ch01_norm_lerp_midpoint"] / r["ch01_norm_endpoints"] - 2 ** -0.5) < 0.1
    assert abs(r["ch01_norm_slerp_midpoint"] - r["ch01_norm_endpoints"]) < 0.5


@pytest.mark.book
def test_chapter_01_mode_collapse_over_seeds_shows_what_its_prose_claims(layout):
    r = recorded_results(layout, "01")
    modes = r["ch01_ring_modes_by_seed"]
    assert r["ch01_ring_seeds"] == len(modes) >= 5
    assert min(modes) == 0 and max(modes) >= 5 and r["ch01_ring_modes_sd"] > 1   # spread out / not settled / varied
    assert r["ch01_ring_quality_min"] < 0.01 < 0.5 < r["ch01_ring_quality_max"]  # "almost no good samples" … most
    assert r["ch01_ring_modes"] in modes and r["ch01_ring_quality"] >= 0.1       # the followed seed settled …
    assert r["ch01_ring_modes"] <= 3 and r["ch01_ring_top_two_share"] > 0.4       # … and collapsed on a few modes
    hops, lost = r["ch01_ring_hops_by_seed"], r["ch01_ring_lost_by_seed"]
    assert len(hops) == len(lost) == len(modes) and all(0 <= h <= n for h, n in zip(hops, lost, strict=True))  # hops lose modes
    assert r["ch01_ring_hop_text"].startswith("by this rule no seed") == (sum(hops) == 0)
    assert r["ch01_ring_leader_changes"] >= 0 and r["ch01_ring_gap_moves"] >= 0
    assert r["ch01_ring_followed_hops"] in hops


@pytest.mark.book
def test_chapter_01_non_convergence_shows_what_its_prose_claims(layout):
    r = recorded_results(layout, "01")
    assert r["ch01_conv_last_outside"] > r["ch01_conv_settled"]                      # "only in passing"
    assert 0 < r["ch01_conv_one_side"] <= r["ch01_conv_side_checks"]                 # D labels every sample alike
    assert r["ch01_conv_logit_spread"] < 0.05                                         # "varies by only"
    assert r["ch01_conv_final_w1"] > r["ch01_conv_best_w1"]                           # "worse again"
    assert r["ch01_conv_reversals"] < r["ch01_conv_checks"] / 2                       # "mostly keeps its direction"
    start = r["ch01_dirac_start"]
    assert r["ch01_dirac_simultaneous"] > 1.5 * start                                 # "spiral out"
    assert 0.9 * start < r["ch01_dirac_alternating_min"] <= start                     # "circle, never closer"
    assert r["ch01_dirac_r1"] < 1e-6 * start                                          # "with R1 the distance falls"


@pytest.mark.book
def test_every_exercise_check_in_the_published_chapters_passes(layout):
    checks = 0
    for source in layout.chapter_sources():
        notebook = nbformat.read(layout.executed_copy(source), as_version=4)
        for cell in notebook.cells:
            if "exercise-check" in cell.metadata.get("tags", []):
                text = "".join(output.get("text", "") + output.get("data", {}).get("text/plain", "")
                               for output in cell.outputs)
                assert text.startswith("✓"), f"{source.stem}: the solution fails its own check:\n{text}"
                checks += 1
    assert checks >= 3


def test_the_page_header_states_the_cost_models_t4_estimate_only_when_it_has_one():
    estimate = {"gpu/published": {"seconds": {"T4": 90.0, "L4": 30.0}}, "gpu/train": {"seconds": {"T4": 4000.0}}}
    text = estimate_text(estimate)
    assert "its heavy loops only" in text
    assert "heavy loops take 1 min 30 s with the published weights, 66 min 40 s with weights=\"train\"" in text
    nothing_left = {"gpu/published": {"seconds": {"T4": 0.0}}, "gpu/train": {"seconds": {"T4": 431.0}}}
    assert "take under a second with the published weights, 7 min 11 s" in estimate_text(nothing_left)
    assert estimate_text(None) == estimate_text({"gpu/published": {"seconds": {"T4": 1.0}}}) == ""


def test_the_slowest_cells_are_named_by_their_section_and_the_line_that_does_the_work():
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_markdown_cell("# 02 · Title\n\n## 1. Setup\n\ntext"))
    timings = [("import torch\n\nbundle = make_loaders(x)\nzoo = Zoo.for_chapter(run)  # trained here\n"
                "model, record = zoo.classifier('A')", 61.0),
               ("# a comment\nplot(x)", 3.2), ("profile = 'cpu'", 99.0), ("y = 1", 0.1), ("x = `code`", 7.0)]
    for k, (source, seconds) in enumerate(timings):
        notebook.cells.append(nbformat.v4.new_code_cell(source, metadata={"papermill": {"duration": seconds}}))
        if k == 1:
            notebook.cells.append(nbformat.v4.new_markdown_cell("## 2. Training `G`"))
    notebook.cells[4].metadata["tags"] = ["injected-parameters"]
    notebook.cells.append(nbformat.v4.new_markdown_cell("text"))
    assert slowest_cells(notebook) == [
        {"first_line": "model, record = zoo.classifier('A')", "section": "1. Setup", "seconds": 61.0},
        {"first_line": "x = 'code'", "section": "2. Training 'G'", "seconds": 7.0},
        {"first_line": "plot(x)", "section": "1. Setup", "seconds": 3.2}]
    text = slowest_text({"slowest_cells": slowest_cells(notebook)[:1]})
    assert text == " Slowest cells in this run: 1. Setup: `model, record = zoo.classifier('A')` 1 min 1 s."
    assert slowest_text({"slowest_cells": [{"first_line": "f()", "seconds": 2.0}]}) == \
        " Slowest cells in this run: `f()` 2.0 s."       # records made before cells had a section


