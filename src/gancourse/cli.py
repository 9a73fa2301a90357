"""Command line of the book: ``python -m gancourse.cli <command>`` (or ``gancourse <command>``).

Commands:
    fetch-data        put the offline datasets in place and report which datasets are available
    execute           execute chapters with papermill into book/chapters/ (stale ones by default)
    build             build the HTML book from the executed copies (warnings are errors)
    prepare           write parametrised, unexecuted copies of the sources (for nbval's smoke run)
    set-repository    change the repository URL in _config.yml and in every notebook's Colab install cell
    matrix            every attack of the book against every defense: matrix.csv, matrix.json, matrix.png
    time-chapters     execute chapters cold in a scratch folder and record their run times (book/run_times.json)
    edition           the chapters as plain Jupyter notebooks: reader, student (no solutions) or instructor edition
    train-reference   train the reference models the book publishes (resumable; --publish publishes each one)
    stylegan-r1-sweep train the StyleGAN with several R1 weights γ and print each one's quality
    weights           the book's published weights: verify the folder against its manifest, list it, publish

An error ends a command with a one-line message and exit status 1; ``gancourse --debug <command>`` shows the
full traceback instead.
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from gancourse.files import output_folder
from gancourse.profiles import PROFILE_NAMES
from gancourse.runtime import WEIGHT_SOURCES


def _fetch_data(_: argparse.Namespace) -> int:
    from gancourse.data import DATASETS, DatasetNotFoundError, load_dataset

    missing_required = False
    for name, info in DATASETS.items():
        try:
            train = load_dataset(name, train=True, download=False)
            test = load_dataset(name, train=False, download=False)
            print(f"{name:14s} available: {len(train)} training and {len(test)} test images")
        except DatasetNotFoundError as error:
            first_line = str(error).splitlines()[0]
            print(f"{name:14s} not available offline ({first_line})")
            missing_required |= info.offline_source is not None
    if missing_required:
        print("a dataset that should be available offline is missing; see the messages above", file=sys.stderr)
        return 1
    return 0


def _check_run_options(profile: str, dataset: str | None, seed: int | None) -> None:
    """Reject a profile this machine cannot run, an unknown dataset or a bad seed before anything starts
    (inside a chapter they would only fail after its kernel started, in its first cell)."""
    from gancourse.data import dataset_info
    from gancourse.profiles import resolve_profile

    resolve_profile(profile)
    if dataset is not None:
        dataset_info(dataset)
    if seed is not None and not 0 <= seed < 2**32:
        raise ValueError(f"--seed must be in [0, 2**32), got {seed}")


def _execute(args: argparse.Namespace) -> int:
    from gancourse.book.execute import execute_chapters, execute_stale
    from gancourse.book.layout import BookLayout

    _check_run_options(args.profile, args.dataset, args.seed)
    layout = BookLayout.of_repository()
    if args.chapters or args.all:
        sources = [layout.find_chapter(selector) for selector in args.chapters] or layout.chapter_sources()
        execute_chapters(layout, sources, args.profile, args.dataset, args.seed, args.weights)
    else:
        execute_stale(layout, args.profile, args.dataset, args.seed, args.weights)
    return 0


def _carry_code(args: argparse.Namespace) -> int:
    from gancourse.book.execute import carry_code_forward
    from gancourse.book.layout import BookLayout

    layout = BookLayout.of_repository()
    for selector in args.chapters:
        print(f"code carried into {carry_code_forward(layout, layout.find_chapter(selector), args.reason)}")
    return 0


def _build(args: argparse.Namespace) -> int:
    from gancourse.book.build import build_book
    from gancourse.book.layout import BookLayout

    index = build_book(BookLayout.of_repository(), strict=not args.no_strict)
    print(f"the book is at {index}")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    import papermill

    from gancourse.book.layout import BookLayout

    layout = BookLayout.of_repository()
    output = output_folder(args.output)
    for source in layout.chapter_sources():
        papermill.execute_notebook(str(source), str(output / source.name), parameters={"profile": args.profile},
                                   prepare_only=True, progress_bar=False)
    print(f"{len(layout.chapter_sources())} notebooks prepared with profile {args.profile} in {output}")
    return 0


def _set_repository(args: argparse.Namespace) -> int:
    from gancourse.book.layout import BookLayout
    from gancourse.book.repository import set_repository

    changed = set_repository(BookLayout.of_repository(), args.url)
    print(f"repository set to {args.url} in _config.yml and {changed} notebooks")
    return 0


def _matrix(args: argparse.Namespace) -> int:
    from gancourse.matrix import robust_table_text
    from gancourse.robustness import run_book_matrix

    _check_run_options(args.profile, args.dataset, args.seed)
    cells, paths = run_book_matrix(args.model, args.dataset, args.profile, args.images, args.seed, args.output,
                                   progress=lambda step: print(step, flush=True))
    print(robust_table_text(cells))
    print("written: " + ", ".join(str(path) for path in paths))
    return 0


def _time_chapters(args: argparse.Namespace) -> int:
    from gancourse.book.execute import time_chapters
    from gancourse.book.layout import BookLayout
    from gancourse.book.run_times import format_duration

    _check_run_options(args.profile, None, None)
    layout = BookLayout.of_repository()
    sources = [layout.find_chapter(selector) for selector in args.chapters] or layout.chapter_sources()
    seconds = time_chapters(layout, sources, args.profile, output_folder(args.scratch), args.weights)
    for chapter, value in seconds.items():
        print(f"{chapter:32s} {format_duration(value)}")
    print(f"{'all':32s} {format_duration(sum(seconds.values()))} (recorded in {layout.run_times})")
    return 0


def _edition(args: argparse.Namespace) -> int:
    from gancourse.book.editions import write_edition
    from gancourse.book.layout import BookLayout

    written = write_edition(BookLayout.of_repository(), args.edition, output_folder(args.output))
    print(f"{args.edition} edition: {len(written)} notebooks in {args.output}")
    return 0


def _reference_rows(keys: list[str]) -> list[Any]:
    from gancourse.zoo.reference import REFERENCE_MODELS, reference_model

    return [reference_model(key) for key in keys] if keys else list(REFERENCE_MODELS)


def _train_reference(args: argparse.Namespace) -> int:
    from gancourse.checkpoints import CheckpointStore
    from gancourse.runtime import best_device
    from gancourse.zoo.reference import publish_trained, train_reference

    rows = _reference_rows(args.models)
    if args.list:
        for row in rows:
            print(f"{row.key:24s} {row.dataset:14s} {row.budget}; target: {row.target}")
        return 0
    store = CheckpointStore()

    def published(trained: Any) -> None:
        entry = publish_trained(store, trained)
        if entry is not None:
            print(f"published {entry.file} ({entry.size / 1e6:.2f} MB, {entry.dtype}); commit weights/ now", flush=True)

    # `kill` (SIGTERM) ends a sitting like Ctrl-C does, so its time is added to the ledger on the way out
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    train_reference(rows, store, args.device or best_device(), on_done=published if args.publish else None)
    return 0


def _stylegan_r1_sweep(args: argparse.Namespace) -> int:
    from gancourse.checkpoints import CheckpointStore
    from gancourse.runtime import best_device
    from gancourse.zoo.reference import stylegan_r1_sweep

    stylegan_r1_sweep(args.gammas, args.steps, CheckpointStore(), args.device or best_device())
    return 0


def _weights(args: argparse.Namespace) -> int:
    from gancourse.weights import manifest_table, read_manifest, verify_folder, weights_folder

    if args.action == "publish":
        from gancourse.checkpoints import CheckpointStore
        from gancourse.zoo.reference import publish_trained, train_reference

        store = CheckpointStore()
        for trained in train_reference(_reference_rows(args.models), store, train=False):
            entry = publish_trained(store, trained, args.folder)
            print(f"{trained.row.key}: " + ("already published" if entry is None else
                                            f"published {entry.file} ({entry.size / 1e6:.2f} MB, {entry.dtype})"))
        return 0
    folder = args.folder or weights_folder()
    if args.action == "remove":
        from gancourse.weights import unpublish

        if not args.models:
            raise ValueError("name the published files to remove (see gancourse weights list)")
        for file in args.models:
            entry = unpublish(file, folder)
            print(f"removed {file} ({entry.name}, {entry.provenance.steps:,} steps) from {folder}")
        return 0
    if args.action == "list":
        print(manifest_table(read_manifest(folder)))
        return 0
    problems = verify_folder(folder)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    print(f"{folder}: every file matches the manifest")
    return 0


def _costs(args: argparse.Namespace) -> int:
    import os

    from gancourse.costs import book_workloads, costs_table
    from gancourse.train.loop import NO_PROGRESS_BAR_ENV

    os.environ[NO_PROGRESS_BAR_ENV] = "1"
    if not args.chapters:
        print(costs_table(book_workloads(), measure=args.measure))
        return 0
    import json
    from pathlib import Path

    from gancourse.book.layout import BookLayout
    from gancourse.chapter_costs import estimates
    from gancourse.files import atomic_write

    target = Path(args.write) if args.write else BookLayout.of_repository().cost_estimates
    with atomic_write(target, "w") as file:
        file.write(json.dumps(estimates(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {target}; `gancourse build` puts it in the execution report")
    return 0


def _gpu_check(args: argparse.Namespace) -> int:
    import os

    from gancourse.gpu_check import gpu_check_table, run_gpu_check
    from gancourse.train.loop import NO_PROGRESS_BAR_ENV

    os.environ[NO_PROGRESS_BAR_ENV] = "1"
    print(gpu_check_table(run_gpu_check(args.device, smoke=args.smoke, output=args.output)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per job (module docstring)."""
    parser = argparse.ArgumentParser(prog="gancourse", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true",
                        help="on an error, show the full traceback instead of a one-line message")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("fetch-data", help="put offline datasets in place").set_defaults(run=_fetch_data)

    execute = commands.add_parser("execute", help="execute chapters into book/chapters/")
    execute.add_argument("chapters", nargs="*", help="chapter numbers or names (default: the stale ones)")
    execute.add_argument("--all", action="store_true", help="execute every chapter")
    execute.add_argument("--profile", default="auto", choices=PROFILE_NAMES)
    execute.add_argument("--dataset", default=None, help="override the notebooks' dataset parameter")
    execute.add_argument("--seed", type=int, default=None, help="override the notebooks' seed parameter")
    execute.add_argument("--weights", default=None, choices=WEIGHT_SOURCES,
                         help="override the notebooks' weights parameter (published: the book's trained models; "
                              "train: train every model with the profile's budget)")
    execute.set_defaults(run=_execute)

    carry = commands.add_parser("carry-code", help="give executed copies their sources' new code without "
                                "re-running them; their pages say the outputs come from the earlier code")
    carry.add_argument("chapters", nargs="+", help="chapter numbers or names")
    carry.add_argument("--reason", required=True, help="why the outputs may stand until the next execution")
    carry.set_defaults(run=_carry_code)

    build = commands.add_parser("build", help="build the HTML book from the executed copies")
    build.add_argument("--no-strict", action="store_true", help="do not turn warnings into errors")
    build.set_defaults(run=_build)

    prepare = commands.add_parser("prepare", help="parametrise the sources without executing them")
    prepare.add_argument("output", help="folder for the prepared notebooks")
    prepare.add_argument("--profile", default="smoke", choices=PROFILE_NAMES)
    prepare.set_defaults(run=_prepare)

    repository = commands.add_parser("set-repository", help="change the repository URL everywhere")
    repository.add_argument("url", help="e.g. https://github.com/your-org/gancourse")
    repository.set_defaults(run=_set_repository)

    matrix = commands.add_parser("matrix", help="every attack against every defense (CSV, JSON, heatmap)")
    matrix.add_argument("--dataset", default="fashion-mnist", help="fashion-mnist, mnist or mnist5k")
    matrix.add_argument("--profile", default="auto", choices=PROFILE_NAMES)
    matrix.add_argument("--model", default="A", help="the classifier (A-E) every defense protects")
    matrix.add_argument("--images", type=int, default=None,
                        help="test images to evaluate (default: the profile's eval_size; Defense-GAN: its "
                             "defense_eval_size, its adaptive rows adaptive_eval_size)")
    matrix.add_argument("--seed", type=int, default=0)
    matrix.add_argument("--output", default="matrix", help="folder for matrix.csv, matrix.json, matrix.png")
    matrix.set_defaults(run=_matrix)

    timing = commands.add_parser("time-chapters", help="time chapters cold without publishing them")
    timing.add_argument("chapters", nargs="*", help="chapter numbers or names (default: all)")
    timing.add_argument("--profile", default="smoke", choices=PROFILE_NAMES)
    timing.add_argument("--scratch", default="_build/timing", help="folder for the runs and their models")
    timing.add_argument("--weights", default="published", choices=WEIGHT_SOURCES,
                        help="published: load the book's published weights (a reader's first run); train: train "
                             "every model with the profile's budget")
    timing.set_defaults(run=_time_chapters)

    edition = commands.add_parser("edition", help="the chapters as plain Jupyter notebooks: reader, student or "
                                                  "instructor edition")
    edition.add_argument("edition", choices=("reader", "student", "instructor"),
                         help="reader: the executed chapters; student: the sources without solutions, self-checks "
                              "kept; instructor: the sources with solutions (all in plain Jupyter markdown)")
    edition.add_argument("output", help="folder for the notebooks")
    edition.set_defaults(run=_edition)

    reference = commands.add_parser("train-reference", help="train the reference models the book publishes")
    reference.add_argument("models", nargs="*", help="reference models to train, in order (default: all; see --list)")
    reference.add_argument("--list", action="store_true", help="list the reference models and their budgets")
    reference.add_argument("--publish", action="store_true",
                           help="publish each model into weights/ as soon as it is finished")
    reference.add_argument("--device", default=None, help="torch device (default: cuda when available, else cpu)")
    reference.set_defaults(run=_train_reference)

    sweep = commands.add_parser("stylegan-r1-sweep", help="train the StyleGAN with several R1 weights and compare")
    sweep.add_argument("gammas", nargs="+", type=float, help="R1 weights γ to compare, e.g. 0.1 1 10")
    sweep.add_argument("--steps", type=int, default=3_000, help="training steps of each (default 3,000)")
    sweep.add_argument("--device", default=None, help="torch device (default: cuda when available, else cpu)")
    sweep.set_defaults(run=_stylegan_r1_sweep)

    costs = commands.add_parser("costs", help="FLOPs of the heavy loops and their predicted time per GPU")
    costs.add_argument("--measure", action="store_true",
                       help="also time each loop on this CPU against a large matrix multiply (a minute)")
    costs.add_argument("--chapters", action="store_true",
                       help="estimate every chapter's time per profile and GPU (gancourse.chapter_costs) and write "
                            "book/cost_estimates.json, which the execution report shows (about a minute)")
    costs.add_argument("--write", default=None, help="with --chapters: write the estimates here instead")
    costs.set_defaults(run=_costs)

    gpu = commands.add_parser("gpu-check", help="time the heavy loops on one CUDA GPU against the cost model "
                                                "(a few minutes; JSON and a table)")
    gpu.add_argument("--device", default="cuda", help="the device (default: cuda; refused without CUDA)")
    gpu.add_argument("--smoke", action="store_true", help="toy sizes: proves the code path, measures nothing")
    gpu.add_argument("--output", default="gpu-check", help="folder for gpu_check.json and gpu_check.txt")
    gpu.set_defaults(run=_gpu_check)

    weights = commands.add_parser("weights", help="the book's published weights (weights/ and its manifest)")
    weights.add_argument("action", choices=("verify", "list", "publish", "remove"),
                         help="verify: every file exists and matches its SHA-256 and size, no unlisted files, "
                              "within the 60 MB budget; list: the manifest as a table; publish: publish the "
                              "reference models named (default: all) that train-reference finished; remove: "
                              "remove the published files named (e.g. superseded by a later training stage)")
    weights.add_argument("models", nargs="*", help="publish: reference models (see train-reference --list); "
                                                   "remove: file names (see list)")
    weights.add_argument("--folder", default=None, help="the weights folder (default: weights/ of this checkout)")
    weights.set_defaults(run=_weights)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except Exception as error:  # a clear one-line message for the command line; the traceback with --debug
        if args.debug:
            raise
        print(f"gancourse {args.command}: {type(error).__name__}: {error} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
