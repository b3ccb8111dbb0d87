"""Rubrics, feedback and the offline scorer on a small rubric with hand-written answers."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masterypath.domain.alignment import Matrix, split_sentences
from masterypath.domain.rubric import (
    Criterion,
    Exemplar,
    Judgement,
    Level,
    Rubric,
    feedback_for,
    rubric_from_dict,
    rubric_to_dict,
)
from masterypath.domain.scoring import SimilarityScorer
from masterypath.errors import ValidationError
from masterypath.nlp.embeddings import MiniLMEncoder, nlp_available

CIRCUITS = Rubric(
    id="circuits",
    title="Why does the bulb light?",
    criteria=(
        Criterion(
            id="path",
            title="Closed path",
            competency_ids=("closed-circuit",),
            levels=(
                Level("missing", "Missing", 0, "Does not mention how the bulb connects."),
                Level(
                    "partial",
                    "Partial",
                    1,
                    "Says the bulb is connected to the battery.",
                    ("The bulb is connected to the battery.",),
                ),
                Level(
                    "met",
                    "Met",
                    2,
                    "Explains that the bulb is in a closed path with the battery.",
                    (
                        "The bulb and the battery are in a closed path.",
                        "There is a closed path from the battery through the bulb and back.",
                    ),
                ),
            ),
        ),
        Criterion(
            id="terminals",
            title="Both terminals",
            competency_ids=("terminals",),
            levels=(
                Level("missing", "Missing", 0, "Does not mention the terminals."),
                Level(
                    "met",
                    "Met",
                    1,
                    "Names both battery terminals, positive and negative.",
                    ("The bulb connects to the positive and the negative terminal.",),
                ),
            ),
        ),
    ),
)
GOOD = (
    "I think it lights up. There is a closed path from the battery through the bulb and back. "
    "It is connected to the positive and the negative terminal."
)
WEAK = "The bulb is connected to the battery so it lights up."


def test_rubric_validation_names_the_fault() -> None:
    two = (Level("a", "A", 0, ""), Level("b", "B", 1, ""))
    with pytest.raises(ValidationError, match="at least two levels"):
        Rubric("r", "R", (Criterion("c", "C", (two[0],)),))
    with pytest.raises(ValidationError, match="fewest to most points"):
        Rubric("r", "R", (Criterion("c", "C", (two[1], two[0])),))
    # a NUL reached SQLite as stored text and PostgreSQL as an error: refused in the domain
    nul = Level("b", "B", 1, "Says\x00 more.")
    with pytest.raises(ValidationError, match=r"r: criteria.0.levels.1.descriptor: .* NUL"):
        Rubric("r", "R", (Criterion("c", "C", (two[0], nul)),))
    with pytest.raises(ValidationError, match=r"exemplars.0.text: contains a NUL"):
        Rubric("r", "R", (Criterion("c", "C", two),), (Exemplar("c", "b", "a\x00"),))
    for odd in (float("inf"), float("nan")):
        with pytest.raises(ValidationError, match="'c': points must be finite"):
            Rubric("r", "R", (Criterion("c", "C", (two[0], Level("b", "B", odd, ""))),))
    with pytest.raises(ValidationError, match="appears twice"):
        Rubric("r", "R", (Criterion("c", "C", two), Criterion("c", "C", two)))
    with pytest.raises(ValidationError, match="no level 'z'"):
        Rubric("r", "R", (Criterion("c", "C", two),), (Exemplar("c", "z", "text"),))
    assert rubric_from_dict(rubric_to_dict(CIRCUITS)) == CIRCUITS
    with pytest.raises(ValidationError, match="malformed rubric"):
        rubric_from_dict({"id": "x", "criteria": [{"id": "c"}]})


def test_feedback_quotes_the_next_level_and_flags_unsure_judgements() -> None:
    judged = (
        Judgement("path", "partial", 0.9, ("The bulb is connected to the battery.",)),
        Judgement("terminals", "met", 0.4),
    )
    fb = feedback_for(CIRCUITS, judged)
    assert fb.gaps == (
        "Closed path: to reach Met, explains that the bulb is in a closed path with the battery.",
    )
    assert fb.strengths == ("Both terminals: Met (not sure: an educator will check).",)
    assert fb.needs_review == ("terminals",)
    assert fb.next_step.startswith("Revise your answer: Closed path: to reach Met")
    planned = feedback_for(CIRCUITS, judged, next_activity="Practise item circuits-q3")
    assert planned.next_step == "Practise item circuits-q3"
    assert "What is missing:" in planned.text()


@pytest.mark.parametrize("encoder", ["tfidf", "minilm"])
def test_scorer_gives_the_expected_levels_and_supporting_sentences(encoder: str) -> None:
    if encoder == "minilm" and not nlp_available():
        pytest.skip("the nlp extra is not installed")
    scorer = SimilarityScorer(encoder=MiniLMEncoder() if encoder == "minilm" else None)
    good = {j.criterion_id: j for j in scorer.score(GOOD, CIRCUITS)}
    assert good["path"].level_id == "met"
    assert good["path"].support == (
        "There is a closed path from the battery through the bulb and back.",
    )
    assert good["terminals"].level_id == "met"
    assert good["terminals"].support == (
        "It is connected to the positive and the negative terminal.",
    )
    weak = {j.criterion_id: j for j in scorer.score(WEAK, CIRCUITS)}
    assert weak["path"].level_id == "partial"
    assert weak["terminals"].level_id == "missing"
    with pytest.raises(ValidationError, match="submission"):
        scorer.score("  ", CIRCUITS)


@pytest.mark.parametrize("encoder", ["tfidf", "minilm"])
def test_one_levels_support_is_what_every_levels_supports_give_for_it(encoder: str) -> None:
    if encoder == "minilm" and not nlp_available():
        pytest.skip("the nlp extra is not installed")
    scorer = SimilarityScorer(encoder=MiniLMEncoder() if encoder == "minilm" else None)
    for text in (GOOD, WEAK, "A closed path."):
        for criterion in CIRCUITS.criteria:
            every = scorer.supports(text, CIRCUITS, criterion.id)
            one = [scorer.support(text, CIRCUITS, criterion.id, k) for k in range(len(every))]
            assert one == every
    # a one-sentence answer supports every level with itself
    assert scorer.supports("A closed path.", CIRCUITS, "path")[-1] == "A closed path."


def test_exemplars_calibrate_a_criterion() -> None:
    # with enough educator-scored answers, their judgement wins over the descriptors
    exemplars = tuple(
        Exemplar("terminals", level, text)
        for level, texts in {
            "met": [
                "plus and minus are both wired",
                "wired to plus and to minus",
                "both plus and minus ends",
            ],
            "missing": ["it glows", "the light turns on", "it shines bright"],
        }.items()
        for text in texts
    )
    rubric = Rubric(CIRCUITS.id, CIRCUITS.title, CIRCUITS.criteria, exemplars)
    scorer = SimilarityScorer(min_exemplars=6)
    judged = {j.criterion_id: j for j in scorer.score("It is wired to plus and minus.", rubric)}
    assert judged["terminals"].level_id == "met"
    without = {
        j.criterion_id: j
        for j in SimilarityScorer().score("It is wired to plus and minus.", CIRCUITS)
    }
    assert without["terminals"].level_id == "missing"  # the descriptors alone do not see it


class RecordingEncoder:
    """The real MiniLM encoder, keeping every text it was asked to embed."""

    def __init__(self) -> None:
        self.inner = MiniLMEncoder()
        self.name, self.dimensions = self.inner.name, self.inner.dimensions
        self.seen: list[str] = []

    def encode(self, texts: Sequence[str]) -> Matrix:
        self.seen += texts
        return self.inner.encode(texts)


def test_prepare_embeds_a_rubrics_texts_ahead_and_changes_no_judgement() -> None:
    if not nlp_available():
        pytest.skip("the nlp extra is not installed")
    rubric = Rubric(
        CIRCUITS.id,
        CIRCUITS.title,
        CIRCUITS.criteria,
        (Exemplar("terminals", "met", "Both battery ends are used. Plus and minus are wired."),),
    )
    encoder = RecordingEncoder()
    prepared = SimilarityScorer(encoder=encoder)
    prepared.prepare([rubric])
    ahead = set(encoder.seen)
    texts = {r for c in rubric.criteria for lv in c.levels for r in lv.references}
    descriptors = {lv.descriptor for c in rubric.criteria for lv in c.levels[1:]}
    sentences = {"Both battery ends are used.", "Plus and minus are wired."}
    assert texts | descriptors | sentences <= ahead
    encoder.seen.clear()
    judged = prepared.score(GOOD, rubric)
    assert set(encoder.seen) <= set(split_sentences(GOOD)) | {GOOD}  # only the submission
    assert judged == SimilarityScorer(encoder=MiniLMEncoder()).score(GOOD, rubric)


def test_prepare_fits_the_tfidf_and_calibration_a_first_submission_would() -> None:
    exemplars = tuple(
        Exemplar("terminals", level, text)
        for level in ("met", "missing")
        for text in (f"{level} answer one", f"{level} answer two", f"{level} answer three")
    )
    rubric = Rubric(CIRCUITS.id, CIRCUITS.title, CIRCUITS.criteria, exemplars)
    prepared = SimilarityScorer(min_exemplars=6)
    prepared.prepare([rubric])
    assert len(prepared._vectorizers) == 2 and len(prepared._per_criterion) == 1
    assert prepared.score(WEAK, rubric) == SimilarityScorer(min_exemplars=6).score(WEAK, rubric)


def test_fit_learns_a_calibration_for_new_questions() -> None:
    examples = [(CIRCUITS, "terminals", GOOD, "met"), (CIRCUITS, "terminals", WEAK, "missing")] * 3
    scorer = SimilarityScorer().fit(examples)
    assert set(scorer.calibrators_) == {2}
    assert scorer.score(GOOD, CIRCUITS)[1].level_id == "met"
    with pytest.raises(ValidationError, match="min_exemplars"):
        SimilarityScorer(min_exemplars=1).fit(examples)


@settings(max_examples=30, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from("abcdefg battery bulb path terminal."), min_size=1, max_size=80
    )
)
def test_confidence_is_a_probability_and_support_comes_from_the_answer(text: str) -> None:
    if not text.strip():
        return
    for j in SimilarityScorer().score(text, CIRCUITS):
        assert 0.0 <= j.confidence <= 1.0
        assert all(s.strip() in text or s == text.strip() or s in text for s in j.support)
