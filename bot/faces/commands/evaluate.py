"""`recbot eval redial|templates|simulate|dialogue` and `recbot train-reranker`: the ReDial benchmark, the
prompt-template A/B, the user simulator, the conversational suite, and the reranker the benchmark trains."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EVAL_HELP = """\
Score recommenders on ReDial recommender turns: each system ranks the whole catalogue for every turn,
and each item the human recommender suggested is scored separately (Recall@1/10/50, NDCG@10, MRR) in
two views: 'all' (every rec item; comparable to published CRS tables) and 'new-only' (items already
mentioned are dropped from the truth and excluded from the ranking). The catalogue is ingested as the
index 'redial' first (a no-op when unchanged). Writes result.json, report.md, report.html and a
Recall@k plot.

systems: popularity (in-sample reference unless --train-turns), bm25, dense (last two utterances vs item
texts), retrieval (the chat's understanding -> session state -> retrieval, no learned ranker), recbot
(exactly what the chat runs on that catalogue: the same path plus the ranker it loads -- the catalogue's
own learned reranker if trained, else the packaged transfer ranker; its training dialogues are scored
out-of-fold), recbot+rerank (the ReDial-only reranker of `recbot train-reranker`, with its repeat model).
Besides recall, NDCG and MRR, the tables give P@10, MAP@50 and catalogue coverage of the top 10.

--catalogue also takes the name of an ingested catalogue (e.g. the bundled 'movies'): the transfer
benchmark, where ReDial names are mapped onto its films by normalised title + year (the mapped share
is reported; only mapped rec items are scored).

examples:
  recbot eval redial --turns ../shared/data/redial/valid_turns.jsonl \\
                     --catalogue ../shared/data/redial/id2info.json
  recbot eval redial --turns ../shared/data/redial/valid_turns.jsonl --catalogue movies \\
                     --train-turns ../shared/data/redial/train_extra_dialogues_raw.jsonl
  recbot eval redial --turns T.jsonl --catalogue id2info.json --systems recbot --llm --limit 50
"""

DIALOGUE_HELP = """\
Play scripted multi-turn conversations (YAML, in English, Chinese and Spanish, on films and recipes)
through the HTTP API -- of a `recbot serve` started for the run on a free loopback port with the same
settings (rate limit off; its log is server.log in --out), or of a running server with --server -- and
check every turn: the cards (genres, years, runtime and other numeric facts, people by
role, exclusions, items given feedback or already shown never coming back), answers about shown items
against the catalogue, an honest "I can't" for what the catalogue cannot answer, faithfulness (every
explanation sentence and card "why" checked against the items' facts; no unfinished sentences, no
injected claims) and the language of the reply. Prints pass rates by category, language and
catalogue, whole conversations, and false claims per 100 explanation sentences. The catalogues must be
ingested (`recbot ingest movies`, `recbot ingest recipes`). The file format is in eval/dialogue.py.

examples:
  recbot eval dialogue
  recbot eval dialogue --tag slice --model smollm2-135m
  recbot eval dialogue eval/dialogues/movies_zh.yaml --out reports/dialogue
  recbot eval dialogue --server http://127.0.0.1:8000
"""

TRAIN_HELP = """\
Train the learned reranker on ReDial turns: features of each candidate (retrieval scores, similarity
to liked items, genre/people match, year, how often people recommended it, co-recommendation with the
items mentioned) scored by gradient-boosted trees. Cross-validated by dialogue; the --extra dialogues
(the 813 train-split ones by default) are trained on in every fold and never scored. Prints the
out-of-fold numbers and caches the model under the data dir, named by the catalogue fingerprint and
feature version, where `recbot eval redial` (and the retriever wiring) find it.

With --transfer it trains the transfer ranker instead, the one shipped in retrieval/models/transfer/ and
loaded for every catalogue without a reranker of its own: a two-tower (a fine-tuned query tower over the
catalogue's MiniLM item vectors, learned film vectors keyed by title + year, a quality prior from the
catalogue's review fields) and gradient-boosted trees over catalogue-generic features, trained on the dev
turns plus the train-extra dialogues mapped onto the bundled films (5-fold CV by dialogue; prints the
out-of-fold dev numbers; about 10 minutes on 2 cores). Only weights are written, no ReDial rows or counts.

With --from-feedback: tune a catalogue's ranker on the session store's likes / dislikes (needs 20 rows,
5 likes), saved where retrieval.rerank = "auto" uses it for that catalogue (eval/feedback_training.py).

examples:
  recbot train-reranker --turns ../shared/data/redial/valid_turns.jsonl \\
                        --catalogue ../shared/data/redial/id2info.json
  recbot train-reranker --transfer
  recbot train-reranker --from-feedback --catalogue movies
"""


TEMPLATES_HELP = """\
Compare two prompt-template versions A and B for prompt engineers. For each version: the user simulator
plays the same ReDial seekers against the real engine (success@k within N turns, turns to success,
target recall), and the first ReDial recommender turns are scored with every seeker utterance read by
the LLM (Recall@1/10/50, NDCG@10, MRR in the 'all' and 'new-only' views). Prints A, B, B - A and a 95%
paired bootstrap interval of B - A (resampling dialogues or turns; an interval containing 0 means no
detectable difference), and writes result.json, report.md and the transcripts into --out.

A template version is a prompt set name (default, customer_service, or one saved by the prompt lab) or
a directory of template files (NAME.yaml; what it lacks comes from default). The report lists which
templates differ: only `understand` moves the ReDial-turn numbers; `system`/`elicit` word the questions
the simulated seeker reads; explanation templates never change the cards.

Identical LLM requests are answered once (A and B share what they share). Measured on 2 busy CPU cores
with the default Qwen2.5-Coder-0.5B: 12 minutes for default vs customer_service (same `understand`: B's ReDial
turns are replayed), 17 minutes when `understand` differs; almost all of it is the ReDial turns' LLM
calls (--turns-limit). --model smollm2-135m is a quick check.

examples:
  recbot eval templates default customer_service
  recbot eval templates default ./my_prompts --dialogues 10 --turns-limit 20 --model smollm2-135m
"""

SIMULATE_HELP = """\
Play ReDial seekers against the bot and score whole conversations. Each simulated seeker comes from one
raw ReDial dialogue: its targets are the movies the human recommender suggested and it liked; it opens
with movies and genres it liked, answers the bot's questions from those facts (never naming a target),
and reacts to recommendations (Like on a target = success; Seen / Dislike on cards it knew; otherwise
"something else" plus one more preference). Phrasings come from eval/simulator_phrases.yaml, chosen
with --seed. Reports success@1 and success@k within --max-turns bot turns, turns to success and target
recall, with 95% bootstrap intervals over dialogues; writes result.json, report.md and
conversations.jsonl (the transcripts) into --out.

examples:
  recbot eval simulate
  recbot eval simulate --templates customer_service --dialogues 10 --max-turns 4 --model smollm2-135m
"""

REDIAL_DIR = "../shared/data/redial"

# the names of eval.systems.SYSTEMS, kept here so that `recbot --help` does not import the models' code
# (tests/eval/test_redial_runner.py checks that both agree)
SYSTEMS = ("popularity", "bm25", "dense", "retrieval", "recbot", "recbot+rerank")
DEFAULT_SYSTEMS = ("popularity", "bm25", "dense", "retrieval", "recbot")


def _systems(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    bad = [n for n in names if n not in SYSTEMS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"choose systems from {', '.join(SYSTEMS)} (comma-separated)")
    return names


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _simulator_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dialogues-file", default=f"{REDIAL_DIR}/valid_dialogues_raw.jsonl",
                   help="raw ReDial dialogues the seekers come from (default: %(default)s)")
    p.add_argument("--catalogue", default=f"{REDIAL_DIR}/id2info.json",
                   help="the ReDial id2info.json, ingested as the index 'redial' (default: %(default)s)")
    p.add_argument("--dialogues", type=_positive, default=30,
                   help="simulate the first N dialogues that have a target in the catalogue (default 30)")
    p.add_argument("--max-turns", type=_positive, default=5, help="bot turns per conversation (default 5)")
    p.add_argument("--k", type=_positive, default=3, help="recommendation cards per bot turn (default 3)")
    p.add_argument("--seed", type=int, default=0,
                   help="phrasing, LLM sampling and bootstrap seed (default 0)")
    p.add_argument("--understanding", choices=("auto", "always", "never"), default="auto",
                   help="LLM understanding of the seeker's messages: auto (as the product: only when the "
                        "rules find nothing; default), always, never")
    p.add_argument("--explanations", action="store_true",
                   help="also generate the explanation text under the cards (slower; cards are the same)")
    p.add_argument("--model", help="LLM to use instead of the configured one (e.g. smollm2-135m)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def register(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser("eval", help="benchmarks that score recommendations (ReDial, simulator, A/B)")
    kinds = ev.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    r = kinds.add_parser("redial", help="Recall@k / NDCG / MRR on ReDial recommender turns",
                         description=EVAL_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--turns", required=True, help="a ReDial turns file (JSONL: context, entity, rec, ...)")
    r.add_argument("--catalogue", required=True,
                   help="the ReDial id2info.json, or a catalogue name to transfer to (e.g. movies)")
    r.add_argument("--systems", type=_systems, default=list(DEFAULT_SYSTEMS),
                   help=f"comma-separated from {','.join(SYSTEMS)} (default: {','.join(DEFAULT_SYSTEMS)})")
    r.add_argument("--train-turns", help="turns (or raw ReDial dialogues) the popularity baseline is fitted on "
                   "(default: the scored file, in-sample); score a held-out split with the dev file here")
    r.add_argument("--limit", type=_positive, help="only the first N turns (e.g. with --llm)")
    r.add_argument("--out", help="report directory (default: reports/redial-<date>)")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--llm", dest="llm", action="store_true",
                   help="also read every seeker utterance with the configured LLM (slow)")
    g.add_argument("--no-llm", dest="llm", action="store_false", help="deterministic understanding (default)")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    r.set_defaults(func=cmd_eval_redial, llm=False)

    a = kinds.add_parser("templates", help="A/B of two prompt-template versions (simulator + ReDial turns)",
                         description=TEMPLATES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("a", metavar="A", help="template version A: a prompt set name or a directory of templates")
    a.add_argument("b", metavar="B", help="template version B (same forms)")
    _simulator_options(a)
    a.add_argument("--turns", default=f"{REDIAL_DIR}/valid_turns.jsonl",
                   help="ReDial turns file (default: %(default)s)")
    a.add_argument("--turns-limit", type=_non_negative, default=40,
                   help="score the first N ReDial turns with LLM understanding (default 40; 0 skips them)")
    a.add_argument("--bootstrap", type=_positive, default=2000, help="bootstrap resamples (default 2000)")
    a.add_argument("--no-replay", dest="replay", action="store_false",
                   help="call the LLM again for requests already answered (slower; checks determinism)")
    a.add_argument("--out", help="report directory (default: reports/templates-<date>)")
    a.set_defaults(func=cmd_eval_templates)

    s = kinds.add_parser("simulate", help="score whole conversations with a simulated ReDial seeker",
                         description=SIMULATE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--templates", help="template version: a prompt set name or a directory "
                                       "(default: the configured prompt_set)")
    _simulator_options(s)
    s.add_argument("--bootstrap", type=_positive, default=2000, help="bootstrap resamples (default 2000)")
    s.add_argument("--out", help="report directory (default: reports/simulate-<date>)")
    s.set_defaults(func=cmd_eval_simulate)

    d = kinds.add_parser("dialogue", help="scripted multi-turn conversations through the HTTP API, by category",
                         description=DIALOGUE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("paths", nargs="*", help="conversation files or folders (default: the packaged eval/dialogues)")
    d.add_argument("--tag", action="append", default=[], help="only conversations with this tag (e.g. slice)")
    d.add_argument("--only", action="append", default=[], help="only the conversation with this id")
    d.add_argument("--server", help="a running `recbot serve` URL (default: start one for the run, then stop it)")
    d.add_argument("--model", help="LLM to use instead of the configured one (e.g. smollm2-135m)")
    d.add_argument("--out", help="write result.json and table.txt here")
    d.add_argument("--quiet", action="store_true", help="no line per turn")
    d.set_defaults(func=cmd_eval_dialogue)

    t = sub.add_parser("train-reranker", help="train the learned reranker on ReDial turns (cross-validated)",
                       description=TRAIN_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--transfer", action="store_true",
                   help="train the packaged transfer ranker (any catalogue) instead of a ReDial-only reranker")
    t.add_argument("--from-feedback", action="store_true",
                   help="tune --catalogue's ranker (default the configured one) on the session store's feedback")
    t.add_argument("--turns", help="the ReDial turns to train on (JSONL; required without --transfer; "
                   f"with it default {REDIAL_DIR}/valid_turns.jsonl)")
    t.add_argument("--catalogue", help="the ReDial id2info.json (required without --transfer); with --transfer "
                   "the catalogue to train on (default movies)")
    t.add_argument("--extra", default=f"{REDIAL_DIR}/train_extra_dialogues_raw.jsonl",
                   help="raw ReDial dialogues trained on as well, in every fold and never scored (default: "
                   "%(default)s, when present; '' for none)")
    t.add_argument("--out", help="--transfer: where to write the model (default: the packaged "
                   "retrieval/models/transfer/); --from-feedback: default <cache>/rerankers/<catalogue>/feedback/")
    t.add_argument("--epochs", type=_positive, default=6, help="--transfer: two-tower epochs (default 6)")
    t.add_argument("--folds", type=_positive, default=5, help="cross-validation folds, by dialogue (default 5)")
    t.add_argument("--limit", type=_positive, help="only the first N turns")
    t.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.set_defaults(func=cmd_train_reranker)


def cmd_eval_dialogue(args: argparse.Namespace) -> int:
    from eval.dialogue import SuiteError, load_suite, run

    try:
        conversations = load_suite(args.paths or None, tags=args.tag, only=args.only)
        if not conversations:
            print("error: no conversation matches --tag/--only", file=sys.stderr)
            return 2
        result = run(_settings_for(args), conversations, server=args.server, progress=not args.quiet,
                     out=Path(args.out) if args.out else None)
    except (SuiteError, RuntimeError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result.table())
    failures = result.failures()
    if failures:
        print("\nfailed turns:\n" + failures)
    return 0


def cmd_eval_redial(args: argparse.Namespace) -> int:
    from eval.redial_format import RedialFormatError
    from eval.redial_runner import print_results, run
    from eval.redial_setup import RunnerError
    from retrieval.errors import CatalogueError
    from retrieval.index import IndexUnavailable

    try:
        output = run(args.turns, args.catalogue, args.systems, limit=args.limit, out_dir=args.out, llm=args.llm,
                     train_turns_path=args.train_turns,
                     progress=not args.quiet)
    except (RunnerError, RedialFormatError, CatalogueError, IndexUnavailable, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_results(output)
    return 0


def cmd_train_reranker(args: argparse.Namespace) -> int:
    from eval.redial_format import RedialFormatError
    from eval.train_reranker import train
    from retrieval.errors import CatalogueError
    from retrieval.index import IndexUnavailable

    if args.transfer:
        return _train_transfer(args)
    if args.from_feedback:  # errors: too little feedback, no index, no store, no packaged ranker
        from eval.feedback_training import train_with_settings
        try:
            print(train_with_settings(args.catalogue, out=args.out, seed=args.seed).summary())
        except (ValueError, RuntimeError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    if not args.turns or not args.catalogue:
        print("error: --turns and --catalogue are required (or use --transfer)", file=sys.stderr)
        return 2
    try:
        extra = args.extra or None
        if extra == f"{REDIAL_DIR}/train_extra_dialogues_raw.jsonl" and not Path(extra).is_file():
            extra = None  # the default file is optional; a path given explicitly must exist
        report = train(args.turns, args.catalogue, folds=args.folds, limit=args.limit, seed=args.seed,
                       progress=not args.quiet, extra_path=extra)
    except (ValueError, RedialFormatError, CatalogueError, IndexUnavailable, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0


def _train_transfer(args: argparse.Namespace) -> int:
    from eval.redial_format import RedialFormatError
    from eval.train_transfer import summary, train_transfer
    from retrieval.errors import CatalogueError
    from retrieval.index import IndexUnavailable

    try:
        result = train_transfer(catalogue=args.catalogue or "movies",
                                turns_path=args.turns or f"{REDIAL_DIR}/valid_turns.jsonl",
                                extra_path=args.extra or None, out=args.out, folds=args.folds, epochs=args.epochs,
                                seed=args.seed, limit=args.limit, progress=not args.quiet)
    except (ValueError, RedialFormatError, CatalogueError, IndexUnavailable, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary(result))
    return 0


def _settings_for(args: argparse.Namespace):
    from bot.settings import get_settings

    settings = get_settings()
    if args.model:
        settings = settings.model_copy(update={"llm": settings.llm.model_copy(update={"model": args.model})})
    return settings


def cmd_eval_templates(args: argparse.Namespace) -> int:
    from bot.llm.base import LLMError
    from eval.redial_format import RedialFormatError
    from eval.simulator import SimulatorError
    from eval.templates_ab import TemplatesABError, print_result, run
    from retrieval.errors import CatalogueError
    from retrieval.index import IndexUnavailable

    try:
        result = run(args.a, args.b, _simulator_setup(args, _settings_for(args)), turns_path=args.turns,
                     turns_limit=args.turns_limit, replay=args.replay)
    except (TemplatesABError, SimulatorError, RedialFormatError, CatalogueError, IndexUnavailable, LLMError,
            FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_result(result)
    return 0


def _simulator_setup(args: argparse.Namespace, settings):
    """The options of `_simulator_options` (and --bootstrap, --out, --quiet) as one simulator run."""
    from eval.version_runs import SimulatorSetup

    return SimulatorSetup(dialogues_path=args.dialogues_file, catalogue_path=args.catalogue, n_dialogues=args.dialogues,
                          max_turns=args.max_turns, k=args.k, seed=args.seed, n_boot=args.bootstrap,
                          understanding=args.understanding, explanations=args.explanations, settings=settings,
                          out_dir=args.out, progress=not args.quiet)


def cmd_eval_simulate(args: argparse.Namespace) -> int:
    from bot.llm.base import LLMError
    from eval.redial_format import RedialFormatError
    from eval.simulator import SimulatorError
    from eval.templates_ab import TemplatesABError, simulate, simulate_table
    from retrieval.errors import CatalogueError
    from retrieval.index import IndexUnavailable

    settings = _settings_for(args)
    try:
        result = simulate(args.templates or settings.prompt_set, _simulator_setup(args, settings))
    except (TemplatesABError, SimulatorError, RedialFormatError, CatalogueError, IndexUnavailable, LLMError,
            FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(simulate_table(result))
    info = result.info
    print(f"- {info['dialogues']} dialogues, {info['max_turns']} bot turns each, {info['k']} cards a turn; "
          f"LLM {info['llm']}; {info['minutes']:.1f} min")
    if result.files:
        print(f"report: {Path(result.files['report_md']).parent}")
    return 0
