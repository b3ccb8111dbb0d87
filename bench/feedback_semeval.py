"""Benchmark: rubric scoring of short answers on SemEval-2013 Task 7 (Beetle, SciEntsBank).

Each question becomes a one-criterion rubric whose levels are the task's labels (2-way:
incorrect < correct; 3-way: incorrect < contradictory < correct) and whose top level holds
the question's reference answers. Only the train split is used for fitting: on the
*unseen answers* split a question's train answers are its rubric's exemplars (the scorer
calibrates on them); on *unseen questions / domains* the question is new, so the scorer
relies on the calibration it learned from the train questions (``SimilarityScorer.fit``).

Rows, in one run on the same answers (``--systems`` picks them): masterypath's
``CrossEncoderScorer`` (MiniLM fine-tuned as a cross-encoder on the train answers of the
corpus; ``crossencoder``), its ``SimilarityScorer`` with MiniLM embeddings (``minilm``)
and with TF-IDF (no ``nlp`` extra; ``tfidf``), and the baseline the data README describes
(MiniLM cosine to the nearest reference answer + a logistic regression fitted on train;
``baseline``). The best SemEval-2013 systems are printed for reference.

Speed: answers/s is the throughput of scoring the whole split (the cross-encoder through
``score_many``, in batches; the similarity scorers one answer at a time), after each
system has prepared the split's rubrics (``scorer.prepare``, as the server does when
rubrics are saved; its seconds are in the JSON as ``prepare_s``) and scored ``--warm-up``
answers untimed (as a running server has); p95 ms is the latency of one ``score`` call
(one answer, as the API scores it).

A fitted cross-encoder depends on its seed (the new classification head's initial weights
and the order of the training answers) by up to 0.05 macro-F1 on the unseen-questions
splits: ``--seeds 0,1,2`` fits one per seed, prints a row for each and their mean, min and
max (``seed_spread`` in the JSON).

Usage::

    .venv/bin/python -m bench.feedback_semeval ../shared/data/feedback/semeval2013-task7 \\
        --json bench/feedback_semeval.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

from masterypath.domain.rubric import Criterion, Exemplar, Level, Rubric
from masterypath.domain.scoring import SimilarityScorer
from masterypath.nlp.cross_encoder import CrossEncoderScorer
from masterypath.nlp.embeddings import MiniLMEncoder

SPLITS = {"unseen_answers": "UA", "unseen_questions": "UQ", "unseen_domains": "UD"}
LEVELS = {
    "2way": [("incorrect", 0.0), ("correct", 1.0)],
    "3way": [("incorrect", 0.0), ("contradictory", 0.5), ("correct", 1.0)],
}
SEMEVAL_BEST = {  # macro-F1 of the best SemEval-2013 system on Beetle (task paper)
    ("beetle", "2way", "UA"): 0.833,
    ("beetle", "2way", "UQ"): 0.702,
    ("beetle", "3way", "UA"): 0.715,
    ("beetle", "3way", "UQ"): 0.585,
}
README_BASELINE = {("scientsbank", "2way", "UQ"): 0.715, ("beetle", "2way", "UQ"): 0.750}


def read(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def rubric_for(question: dict[str, Any], way: str, exemplars: list[dict[str, Any]]) -> Rubric:
    levels = tuple(
        Level(
            id=name,
            label=name,
            points=points,
            descriptor="",
            references=tuple(r["text"] for r in question["reference_answers"])
            if name == "correct"
            else (),
        )
        for name, points in LEVELS[way]
    )
    return Rubric(
        id=f"{question['corpus']}:{question['question_id']}",
        title=question["question"],
        criteria=(Criterion(id="answer", title="Answer", levels=levels),),
        exemplars=tuple(
            Exemplar("answer", a[f"label_{way}"], a["student_answer"], "train") for a in exemplars
        ),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--ways", default="2way,3way")
    parser.add_argument("--systems", default="crossencoder,minilm,tfidf,baseline")
    parser.add_argument("--epochs", type=int, default=3, help="cross-encoder fine-tuning")
    parser.add_argument(
        "--seeds",
        default="0",
        help="comma-separated seeds: one cross-encoder fitted per seed (its classification "
        "head's initial weights and the order of its training answers), each a row, and the "
        "spread over them printed",
    )
    parser.add_argument(
        "--reference-choice",
        choices=("embedding", "lexical"),
        default="embedding",
        help="how the cross-encoder picks the reference paired with an answer",
    )
    parser.add_argument("--latency-sample", type=int, default=200)
    parser.add_argument(
        "--warm-up",
        type=int,
        default=16,
        help="answers each system scores, untimed, before a split is timed",
    )
    parser.add_argument(
        "--save-ce", type=Path, help="save each fitted cross-encoder under this folder"
    )
    parser.add_argument(
        "--load-ce", type=Path, help="load the cross-encoders --save-ce wrote instead of fitting"
    )
    parser.add_argument(
        "--train-on",
        choices=("corpus", "all"),
        default="corpus",
        help="fit on the corpus's own train split, or on every corpus's train split",
    )
    parser.add_argument("--corpora", help="comma-separated (default: every corpus in the data)")
    parser.add_argument("--json", type=Path, dest="json_path")
    args = parser.parse_args(argv)
    chosen = set(args.systems.split(","))
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds: expected comma-separated integers, got {args.seeds!r}")
    console = Console(width=130)
    questions = {
        (q["corpus"], q["split"], q["question_id"]): q
        for q in read(args.data / "questions.jsonl.gz")
    }
    answers = read(args.data / "answers.jsonl.gz")
    train: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for a in answers:
        if a["split"] == "train":
            train[(a["corpus"], a["question_id"])].append(a)
    encoder = MiniLMEncoder()
    rows: list[dict[str, Any]] = []
    corpora = sorted({a["corpus"] for a in answers})
    if args.corpora:
        unknown = set(args.corpora.split(",")) - set(corpora)
        if unknown:
            parser.error(f"--corpora: {sorted(unknown)} not in the data ({corpora})")
        corpora = args.corpora.split(",")
    fitted_ce: dict[tuple[str, str, int], CrossEncoderScorer] = {}

    def fit_cross_encoder(key: tuple[str, str, int], examples: list[Any]) -> CrossEncoderScorer:
        """The cross-encoder for (labels, corpus, seed): loaded, or fitted on ``examples``."""
        way, corpus, seed = key
        folder = f"{way}-{corpus}" + (f"-seed{seed}" if seed else "")
        if key not in fitted_ce and args.load_ce:
            fitted_ce[key] = CrossEncoderScorer.load(
                args.load_ce / folder, fallback=SimilarityScorer(encoder=encoder)
            )
        if key not in fitted_ce:
            console.print(
                f"fine-tuning the cross-encoder ({way}, seed {seed}) on "
                f"{len(examples)} train answers ..."
            )
            fitted_ce[key] = CrossEncoderScorer(
                epochs=args.epochs,
                seed=seed,
                reference_choice=args.reference_choice,
                fallback=SimilarityScorer(encoder=encoder),
            ).fit(examples)
            if args.save_ce:
                fitted_ce[key].save(args.save_ce / folder)
        return fitted_ce[key]

    for way in args.ways.split(","):
        for corpus in corpora:
            train_examples = []
            for (c, qid), group in train.items():
                if c != corpus and args.train_on == "corpus":
                    continue
                bare = rubric_for(questions[(c, "train", qid)], way, [])
                train_examples += [
                    (bare, "answer", a["student_answer"], a[f"label_{way}"]) for a in group
                ]
            systems: dict[str, Any] = {}
            if "crossencoder" in chosen:
                for seed in seeds:
                    name = "masterypath (cross-encoder" + (
                        f", seed {seed})" if len(seeds) > 1 else ")"
                    )
                    systems[name] = fit_cross_encoder(
                        (way, corpus if args.train_on == "corpus" else "all", seed), train_examples
                    )
            if "minilm" in chosen:
                systems["masterypath (MiniLM)"] = SimilarityScorer(encoder=encoder).fit(
                    train_examples
                )
            if "tfidf" in chosen:
                systems["masterypath (TF-IDF, no nlp extra)"] = SimilarityScorer().fit(
                    train_examples
                )

            # the README's baseline: cosine to the nearest reference + logistic regression
            def nearest(text: str, rubric: Rubric) -> float:
                refs = list(rubric.criteria[0].levels[-1].references)
                v = encoder.encode([text, *refs])
                return float((v[1:] @ v[0]).max()) if refs else 0.0

            base_x = np.array([[nearest(t, r)] for r, _, t, _ in train_examples])
            base_y = [lab for *_, lab in train_examples]
            baseline = LogisticRegression(max_iter=1000).fit(base_x, base_y)
            for split, short in SPLITS.items():
                test = [a for a in answers if a["corpus"] == corpus and a["split"] == split]
                if not test:
                    continue
                truth = [a[f"label_{way}"] for a in test]
                rubrics: dict[str, Rubric] = {}
                for a in test:
                    q = questions[(corpus, split, a["question_id"])]
                    own = train.get((corpus, a["question_id"]), []) if short == "UA" else []
                    rubrics[a["question_id"]] = rubrics.get(a["question_id"]) or rubric_for(
                        q, way, own
                    )
                items = [(a["student_answer"], rubrics[a["question_id"]]) for a in test]
                for name, scorer in systems.items():
                    latencies, predicted = [], []
                    # as the server does when rubrics are saved (FeedbackService.save_rubrics)
                    t0 = time.perf_counter()
                    scorer.prepare(list(rubrics.values()))
                    prepared = time.perf_counter() - t0
                    for text, rubric in items[: args.warm_up]:  # as a running server is
                        scorer.score(text, rubric)
                    start = time.perf_counter()
                    if isinstance(scorer, CrossEncoderScorer):
                        predicted = [j[0].level_id for j in scorer.score_many(items)]
                        seconds = time.perf_counter() - start
                        for text, rubric in items[: args.latency_sample]:
                            t0 = time.perf_counter()
                            scorer.score(text, rubric)
                            latencies.append(time.perf_counter() - t0)
                    else:
                        for text, rubric in items:
                            t0 = time.perf_counter()
                            judged = scorer.score(text, rubric)
                            latencies.append(time.perf_counter() - t0)
                            predicted.append(judged[0].level_id)
                        seconds = time.perf_counter() - start
                    row = _row(corpus, way, short, name, truth, predicted, latencies, seconds)
                    row["prepare_s"] = round(prepared, 2)
                    if isinstance(scorer, CrossEncoderScorer) and len(seeds) > 1:
                        row["seed"] = scorer.seed
                    rows.append(row)
                if "baseline" not in chosen:
                    continue
                predicted = list(
                    baseline.predict(
                        np.array(
                            [
                                [nearest(a["student_answer"], rubrics[a["question_id"]])]
                                for a in test
                            ]
                        )
                    )
                )
                rows.append(
                    _row(
                        corpus,
                        way,
                        short,
                        "baseline: MiniLM nearest reference + LR",
                        truth,
                        predicted,
                        [],
                        0.0,
                    )
                )
    table = Table(
        title="SemEval-2013 Task 7: macro-F1 (accuracy) per test split, fitted on train only"
    )
    for column in (
        "corpus",
        "labels",
        "split",
        "system",
        "macro-F1",
        "accuracy",
        "answers/s",
        "p95 ms",
        "reference",
    ):
        table.add_column(
            column,
            justify="left"
            if column in ("corpus", "labels", "split", "system", "reference")
            else "right",
        )
    for r in rows:
        ref = []
        key = (r["corpus"], r["labels"], r["split"])
        if key in SEMEVAL_BEST:
            ref.append(f"SemEval best {SEMEVAL_BEST[key]:.3f}")
        if key in README_BASELINE and r["system"].startswith("baseline"):
            ref.append(f"README {README_BASELINE[key]:.3f}")
        table.add_row(
            r["corpus"],
            r["labels"],
            r["split"],
            r["system"],
            f"{r['macro_f1']:.3f}",
            f"{r['accuracy']:.3f}",
            f"{r['answers_per_s']:,.0f}" if r["answers_per_s"] else "",
            f"{r['p95_ms']:.1f}" if r["p95_ms"] else "",
            ", ".join(ref),
        )
    console.print(table)
    spread = seed_spread(rows)
    for s in spread:
        console.print(
            f"cross-encoder over seeds {s['seeds']}: {s['corpus']} {s['labels']} {s['split']} "
            f"macro-F1 mean {s['mean']:.3f}, min {s['min']:.3f}, max {s['max']:.3f}"
        )
    if args.json_path:
        args.json_path.write_text(
            json.dumps(
                {
                    "rows": rows,
                    "seed_spread": spread,
                    "semeval_best": {"/".join(k): v for k, v in SEMEVAL_BEST.items()},
                },
                indent=2,
            )
            + "\n"
        )
    return 0


def seed_spread(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean, min and max macro-F1 over the rows that carry a ``seed`` (the cross-encoder's
    when several seeds were fitted), per corpus, labels and split.

    >>> rows = [{"corpus": "c", "labels": "2way", "split": "UQ", "macro_f1": f, "seed": n}
    ...         for n, f in [(0, .7), (1, .6)]]
    >>> seed_spread(rows)[0]["mean"], seed_spread(rows)[0]["seeds"]
    (0.65, [0, 1])
    """
    found: dict[tuple[str, str, str], list[tuple[int, float]]] = defaultdict(list)
    for r in rows:
        if "seed" in r:
            found[(r["corpus"], r["labels"], r["split"])].append((r["seed"], r["macro_f1"]))
    return [
        {
            "corpus": corpus,
            "labels": labels,
            "split": split,
            "seeds": [seed for seed, _ in scores],
            "mean": round(float(np.mean([f for _, f in scores])), 4),
            "min": min(f for _, f in scores),
            "max": max(f for _, f in scores),
        }
        for (corpus, labels, split), scores in found.items()
    ]


def _row(
    corpus: str,
    way: str,
    split: str,
    system: str,
    truth: list[str],
    predicted: list[str],
    latencies: list[float],
    seconds: float,
) -> dict[str, Any]:
    return {
        "corpus": corpus,
        "labels": way,
        "split": split,
        "system": system,
        "n": len(truth),
        "macro_f1": round(float(f1_score(truth, predicted, average="macro")), 4),
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "answers_per_s": round(len(truth) / seconds, 1) if seconds else 0.0,
        "p95_ms": round(float(np.percentile(np.array(latencies) * 1000, 95)), 2)
        if latencies
        else 0.0,
    }


if __name__ == "__main__":
    raise SystemExit(main())
