"""Benchmark: career-skill alignment as retrieval with ground truth, masterypath vs TF-IDF.

For each occupation, every skill of the taxonomy is ranked by its alignment with the
occupation's text (label + description), and the occupation's *essential* skills are
the relevant ones: recall@10, recall@50 (share of its essential skills in the top k,
averaged over occupations) and MRR (reciprocal rank of the first essential skill).

- **TF-IDF** (the peer): cosine of TF-IDF vectors (sublinear tf, English stop words)
  fitted on the skill texts, the usual lexical baseline;
- **masterypath**: :class:`masterypath.domain.alignment.SkillAligner` with its defaults:
  MiniLM sentence embeddings of the whole text (with the CSLS hub correction against
  the occupation texts, no labels used) and of each sentence, fused with the same TF-IDF.
  Rows for two ablations use the same embeddings: embedding cosine alone, and the fusion
  without the hub correction.

Both run in this process on the same rows; the time to align is wall time from texts
to the full occupations x skills score matrix, model loading and encoding included.

Usage::

    .venv/bin/python -m bench.careers_esco ../shared/data/careers/esco-v1.1.1 \\
        --json bench/careers_esco.json
    # any taxonomy in the generic CSV format, with its own column names:
    .venv/bin/python -m bench.careers_esco my.csv \\
        --columns occupation=job,skill=ability,importance=weight,occupation_description=desc
"""

from __future__ import annotations

import argparse
import io
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from sklearn.feature_extraction.text import TfidfVectorizer

from masterypath.domain.alignment import AlignmentTarget, Matrix, SkillAligner
from masterypath.domain.careers import Taxonomy
from masterypath.interop.taxonomies import read_esco, read_generic_csv
from masterypath.nlp.embeddings import MiniLMEncoder

KS = (10, 50)


class MemoEncoder:
    """Encodes each distinct text once, so ablations reuse the embeddings."""

    def __init__(self, inner: MiniLMEncoder) -> None:
        self.inner = inner
        self.name = inner.name
        self.memo: dict[str, np.ndarray[Any, Any]] = {}
        self.seconds = 0.0

    def encode(self, texts: Sequence[str]) -> Matrix:
        todo = list(dict.fromkeys(t for t in texts if t not in self.memo))
        if todo:
            start = time.perf_counter()
            for text, vector in zip(todo, self.inner.encode(todo), strict=True):
                self.memo[text] = vector
            self.seconds += time.perf_counter() - start
        return np.vstack([self.memo[t] for t in texts]).astype(np.float32)


def load(path: Path, columns: str) -> Taxonomy:
    if path.is_dir():
        return read_esco(path).taxonomy
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if columns:
        mapping = dict(part.split("=", 1) for part in columns.split(",") if part)
        frame = frame.rename(columns={v: k for k, v in mapping.items()})
    return read_generic_csv(io.StringIO(frame.to_csv(index=False)), taxonomy_id=path.stem)


class Scorer:
    """Accumulates recall@k and MRR over occupations, a chunk of score rows at a time."""

    def __init__(self) -> None:
        self.recall = {k: 0.0 for k in KS}
        self.mrr = 0.0
        self.n = 0

    def add(self, scores: np.ndarray[Any, Any], gold: list[np.ndarray[Any, Any]]) -> None:
        top_k = max(KS)
        for row, relevant in zip(scores, gold, strict=True):
            top = np.argpartition(-row, top_k)[:top_k]
            top = top[np.argsort(-row[top], kind="stable")]
            for k in KS:
                self.recall[k] += np.isin(relevant, top[:k]).sum() / len(relevant)
            best = row[relevant].max()
            self.mrr += 1.0 / (1 + int((row > best).sum()))
            self.n += 1

    def result(self) -> dict[str, float]:
        out = {f"recall@{k}": round(v / self.n, 4) for k, v in self.recall.items()}
        out["mrr"] = round(self.mrr / self.n, 4)
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="ESCO folder or a generic CSV file")
    parser.add_argument("--columns", default="", help="generic CSV: name=column,... mapping")
    parser.add_argument("--limit", type=int, default=0, help="only the first N occupations")
    parser.add_argument("--chunk", type=int, default=256)
    parser.add_argument("--json", type=Path, dest="json_path")
    args = parser.parse_args(argv)
    console = Console()

    start = time.perf_counter()
    taxonomy = load(args.data, args.columns)
    load_seconds = time.perf_counter() - start
    skill_index = {s.id: i for i, s in enumerate(taxonomy.skills)}
    targets: list[AlignmentTarget] = []
    gold: list[np.ndarray[Any, Any]] = []
    for occupation in taxonomy.occupations:
        essential = [
            skill_index[r.skill_id] for r in taxonomy.required(occupation.id) if r.essential
        ]
        if essential:
            text = f"{occupation.label}. {occupation.description}".strip(" .")
            targets.append(AlignmentTarget(id=occupation.id, text=text))
            gold.append(np.array(essential))
    if args.limit:
        targets, gold = targets[: args.limit], gold[: args.limit]
    skill_texts = [s.text for s in taxonomy.skills]
    console.print(
        f"{len(targets)} occupations with essential skills, {len(skill_texts)} skills "
        f"(read in {load_seconds:.1f} s)"
    )

    # peer: TF-IDF cosine
    start = time.perf_counter()
    vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english")
    skill_matrix = vectorizer.fit_transform(skill_texts).T.tocsr()
    tfidf = Scorer()
    for lo in range(0, len(targets), args.chunk):
        chunk = targets[lo : lo + args.chunk]
        scores = (vectorizer.transform([t.text for t in chunk]) @ skill_matrix).toarray()
        tfidf.add(scores, gold[lo : lo + args.chunk])
    tfidf_seconds = time.perf_counter() - start

    # masterypath: the aligner with its defaults, everything encoded from text
    encoder = MemoEncoder(MiniLMEncoder())
    start = time.perf_counter()
    aligner = SkillAligner(encoder=encoder, chunk_size=args.chunk).fit(
        taxonomy.skills, reference_texts=[t.text for t in targets]
    )
    ours = Scorer()
    with console.status("aligning") as status:
        for lo in range(0, len(targets), args.chunk):
            status.update(f"aligning occupations {lo}-{lo + args.chunk} of {len(targets)}")
            chunk = targets[lo : lo + args.chunk]
            ours.add(aligner.scores(chunk), gold[lo : lo + args.chunk])
    ours_seconds = time.perf_counter() - start

    # ablations on the same embeddings (no new encoding)
    assert aligner.skill_vectors_ is not None
    cosine_only = Scorer()
    no_hub = Scorer()
    plain = SkillAligner(encoder=encoder, chunk_size=args.chunk).fit(
        taxonomy.skills, skill_vectors=aligner.skill_vectors_
    )
    for lo in range(0, len(targets), args.chunk):
        chunk = targets[lo : lo + args.chunk]
        vectors = encoder.encode([t.text for t in chunk])
        cosine_only.add(vectors @ aligner.skill_vectors_.T, gold[lo : lo + args.chunk])
        no_hub.add(plain.scores(chunk), gold[lo : lo + args.chunk])

    rows = {
        "tfidf": {**tfidf.result(), "seconds": round(tfidf_seconds, 1)},
        "masterypath": {**ours.result(), "seconds": round(ours_seconds, 1)},
        "embedding cosine only": cosine_only.result(),
        "masterypath without hub correction": no_hub.result(),
    }
    base = rows["tfidf"]
    table = Table(
        title=f"Essential-skill retrieval on {args.data.name} ({len(targets)} occupations)"
    )
    for column in ("system", "recall@10", "recall@50", "MRR", "vs TF-IDF recall@50", "seconds"):
        table.add_column(column, justify="left" if column == "system" else "right")
    for name, r in rows.items():
        table.add_row(
            name,
            f"{r['recall@10']:.4f}",
            f"{r['recall@50']:.4f}",
            f"{r['mrr']:.4f}",
            f"{r['recall@50'] / base['recall@50']:.3f}x",
            f"{r['seconds']:.1f}" if "seconds" in r else "",
        )
    console.print(table)
    gain = rows["masterypath"]["recall@50"] / base["recall@50"] - 1
    console.print(
        f"recall@50 gain over TF-IDF: {gain:+.1%} (target >= +25%); masterypath aligned "
        f"{len(skill_texts)} skills x {len(targets)} occupations in {ours_seconds:.0f} s "
        f"({encoder.seconds:.0f} s of it encoding {len(encoder.memo)} texts) on this machine"
    )
    if args.json_path:
        figures = {
            "data": str(args.data),
            "occupations": len(targets),
            "skills": len(skill_texts),
            "systems": rows,
            "recall50_gain_vs_tfidf": round(gain, 4),
            "encoding_seconds": round(encoder.seconds, 1),
            "texts_encoded": len(encoder.memo),
        }
        args.json_path.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
