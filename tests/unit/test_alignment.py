"""The skill aligner: lexical and semantic ranking of a hand-made mini programme."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masterypath.domain.alignment import AlignmentTarget, SkillAligner, split_sentences
from masterypath.domain.careers import CareerSkill, Taxonomy
from masterypath.errors import NotFittedError, ValidationError
from masterypath.interop.taxonomies import read_generic_csv
from masterypath.nlp.embeddings import MiniLMEncoder, nlp_available

MINI = Path(__file__).parents[1] / "fixtures" / "careers_mini.csv"
PROGRAMME = [
    AlignmentTarget(
        "select",
        "Write SQL queries. Retrieve data with SQL SELECT queries and filter rows with WHERE.",
    ),
    AlignmentTarget(
        "normalise",
        "Normalise a schema. Design a relational database scheme with "
        "tables and columns in third normal form.",
    ),
    AlignmentTarget(
        "recover",
        "Back up and restore. Perform backups of a database and restore data after a failure.",
    ),
]
EXPECTED = {"select": "sql", "normalise": "dbdesign", "recover": "backup"}


@pytest.fixture(scope="module")
def mini() -> Taxonomy:
    return read_generic_csv(MINI, taxonomy_id="mini")


def test_lexical_aligner_ranks_the_expected_skill_first_with_its_words(mini: Taxonomy) -> None:
    aligner = SkillAligner().fit(mini.skills)
    assert aligner.method_ == "lexical"
    ranked = aligner.suggest(PROGRAMME, top_k=3)
    assert {row[0].target_id: row[0].skill_id for row in ranked} == EXPECTED
    select = ranked[0][0]
    assert select.rank == 1 and select.semantic is None
    assert set(select.matched_words) >= {"sql", "retrieve"}
    assert "SQL SELECT" in select.matched_sentence


@pytest.mark.skipif(not nlp_available(), reason="the nlp extra is not installed")
def test_semantic_aligner_ranks_the_expected_skill_first_and_quotes_the_sentence(
    mini: Taxonomy,
) -> None:
    aligner = SkillAligner(encoder=MiniLMEncoder()).fit(
        mini.skills, reference_texts=[o.description or o.label for o in mini.occupations]
    )
    assert aligner.method_ == "semantic+lexical"
    ranked = aligner.suggest(PROGRAMME, top_k=6)
    assert {row[0].target_id: row[0].skill_id for row in ranked} == EXPECTED
    # a clear winner: more than one standard deviation ahead of the runner-up
    assert all(row[0].score - row[1].score > 1.0 for row in ranked)
    recover = ranked[2][0]
    assert recover.semantic is not None and 0.3 < recover.semantic <= 1.0
    assert (
        recover.matched_sentence
        == "Perform backups of a database and restore data after a failure."
    )


def test_embedding_vectors_are_unit_length() -> None:
    if not nlp_available():
        pytest.skip("the nlp extra is not installed")
    vectors = MiniLMEncoder().encode(["SQL queries", "bake bread"])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(vectors[0] @ vectors[1]) < 0.5


def test_encoder_returns_rows_in_input_order_though_it_batches_by_length() -> None:
    if not nlp_available():
        pytest.skip("the nlp extra is not installed")
    texts = [
        "a much longer text about restoring a database from its nightly backup files",
        "SQL",
        *(f"short text {i}" for i in range(40)),
        "bake bread",
    ]
    encoder = MiniLMEncoder(batch_size=4)  # several chunks and batches, mixed lengths
    together = encoder.encode(texts)
    alone = np.vstack([encoder.encode([t]) for t in (texts[0], texts[1], texts[-1])])
    assert np.allclose(together[[0, 1, -1]], alone, atol=1e-5)


def test_aligner_errors_name_the_field(mini: Taxonomy) -> None:
    with pytest.raises(NotFittedError):
        SkillAligner().suggest(PROGRAMME)
    with pytest.raises(ValidationError, match="weights"):
        SkillAligner(lexical_weight=-1).fit(mini.skills)
    with pytest.raises(ValidationError, match="skills"):
        SkillAligner().fit([])
    aligner = SkillAligner().fit(mini.skills)
    with pytest.raises(ValidationError, match="top_k"):
        aligner.suggest(PROGRAMME, top_k=0)
    with pytest.raises(ValidationError, match="'empty' has no text"):
        aligner.suggest([AlignmentTarget("empty", "  ")])


def test_split_sentences_keeps_short_texts_whole() -> None:
    assert split_sentences("SQL.") == ["SQL."]
    assert split_sentences("Write queries. Then join tables!") == [
        "Write queries.",
        "Then join tables!",
    ]


WORDS = st.sampled_from(
    [
        "sql",
        "database",
        "query",
        "table",
        "bread",
        "oven",
        "customer",
        "advice",
        "python",
        "code",
        "backup",
        "data",
    ]
)


@settings(max_examples=40, deadline=None)
@given(
    texts=st.lists(st.lists(WORDS, min_size=1, max_size=6).map(" ".join), min_size=1, max_size=4),
    top_k=st.integers(1, 8),
)
def test_suggestions_are_sorted_unique_and_capped(texts: list[str], top_k: int) -> None:
    skills = [
        CareerSkill(id=f"s{i}", label=label)
        for i, label in enumerate(
            ["sql query", "bake bread in oven", "advise customer", "python code"]
        )
    ]
    aligner = SkillAligner().fit(skills)
    ranked = aligner.suggest(
        [AlignmentTarget(f"t{i}", t) for i, t in enumerate(texts)], top_k=top_k
    )
    for row in ranked:
        assert len(row) == min(top_k, len(skills))
        assert [s.rank for s in row] == list(range(1, len(row) + 1))
        assert len({s.skill_id for s in row}) == len(row)
        assert all(a.score >= b.score for a, b in pairwise(row))
        assert all(0.0 <= s.lexical <= 1.0 + 1e-6 for s in row)
