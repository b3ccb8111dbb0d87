"""The fine-tuned cross-encoder scorer on a small rubric with hand-written answers."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from masterypath.domain.rubric import Criterion, Level, Rubric
from masterypath.errors import NotFittedError, ValidationError
from masterypath.nlp.embeddings import nlp_available

pytestmark = pytest.mark.skipif(not nlp_available(), reason="the nlp extra is not installed")


def question(rid: str, title: str, reference: str) -> Rubric:
    return Rubric(
        id=rid,
        title=title,
        criteria=(
            Criterion(
                id="answer",
                title="Answer",
                levels=(
                    Level("incorrect", "Incorrect", 0, ""),
                    Level("correct", "Correct", 1, "", (reference,)),
                ),
            ),
        ),
    )


BULB = question(
    "bulb", "Why does the bulb light?", "The bulb is in a closed path with the battery."
)
SWITCH = question("switch", "Why is bulb A off?", "Switch Z is open, so the path is broken.")

TRAIN = [
    (BULB, "The bulb is in a closed path with the battery.", "correct"),
    (BULB, "It is on a closed path with the battery.", "correct"),
    (BULB, "there is a closed path between the bulb and the battery", "correct"),
    (BULB, "the battery and bulb form a closed path", "correct"),
    (BULB, "because it is in a closed path", "correct"),
    (BULB, "closed path with battery", "correct"),
    (BULB, "The bulb is not in a closed path.", "incorrect"),
    (BULB, "the battery is dead", "incorrect"),
    (BULB, "I don't know", "incorrect"),
    (BULB, "because the switch is open", "incorrect"),
    (BULB, "it has no path to the battery", "incorrect"),
    (BULB, "the bulb is broken", "incorrect"),
    (SWITCH, "Switch Z is open, so the path is broken.", "correct"),
    (SWITCH, "because switch Z is open and breaks the path", "correct"),
    (SWITCH, "Z is open so there is a gap in the path", "correct"),
    (SWITCH, "the open switch Z breaks the circuit path", "correct"),
    (SWITCH, "switch z is open", "correct"),
    (SWITCH, "the path is broken by open switch Z", "correct"),
    (SWITCH, "Switch Z is closed.", "incorrect"),
    (SWITCH, "the bulb is damaged", "incorrect"),
    (SWITCH, "no idea", "incorrect"),
    (SWITCH, "the battery is empty", "incorrect"),
    (SWITCH, "because bulb A is in a closed path", "incorrect"),
    (SWITCH, "it is short circuited", "incorrect"),
]


@pytest.fixture(scope="module")
def fitted() -> object:
    from masterypath.nlp.cross_encoder import CrossEncoderScorer

    examples = [(r, "answer", text, level) for r, text, level in TRAIN]
    return CrossEncoderScorer(epochs=8, batch_size=8, learning_rate=1e-4, max_length=64).fit(
        examples
    )


def test_fitted_scorer_learns_the_scheme_and_judges_new_answers_with_support(
    fitted: object,
) -> None:
    from masterypath.nlp.cross_encoder import CrossEncoderScorer

    assert isinstance(fitted, CrossEncoderScorer)
    assert fitted.levels_ == ("incorrect", "correct")
    assert fitted.n_examples_ == len(TRAIN) and fitted.skipped_ == 0
    good = fitted.score("The lamp lights. It sits in a closed path with the battery.", BULB)[0]
    assert good.level_id == "correct"
    assert good.support == ("It sits in a closed path with the battery.",)
    assert good.scorer == "cross-encoder:all-MiniLM-L6-v2" and 0.5 < good.confidence <= 1.0
    assert fitted.score("the battery is flat", BULB)[0].level_id == "incorrect"
    batch = fitted.score_many([("switch Z is open", SWITCH), ("no clue at all", SWITCH)])
    assert [j[0].level_id for j in batch] == ["correct", "incorrect"]


def test_other_level_schemes_fall_back_to_the_similarity_scorer_and_say_so(
    fitted: object,
) -> None:
    from masterypath.nlp.cross_encoder import CrossEncoderScorer

    assert isinstance(fitted, CrossEncoderScorer)
    three = Rubric(
        id="three",
        title="Why does the bulb light?",
        criteria=(
            Criterion(
                id="path",
                title="Path",
                levels=(
                    Level("no", "No", 0, ""),
                    Level("some", "Some", 1, "", ("The bulb touches the battery.",)),
                    Level("yes", "Yes", 2, "", ("The bulb is in a closed path.",)),
                ),
            ),
        ),
    )
    judged = fitted.score("The bulb is in a closed path.", three)[0]
    assert judged.level_id == "yes"
    assert judged.scorer == "similarity:tfidf"
    assert "level scheme not learned" in judged.note


def test_save_and_load_round_trip_gives_the_same_probabilities(
    fitted: object, tmp_path: Path
) -> None:
    from masterypath.nlp.cross_encoder import SCHEMA_VERSION, CrossEncoderScorer

    assert isinstance(fitted, CrossEncoderScorer)
    fitted.save(tmp_path / "scorer")
    manifest = json.loads((tmp_path / "scorer" / "scorer.json").read_text())
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["levels"] == ["incorrect", "correct"]
    assert (tmp_path / "scorer" / "model.safetensors").is_file()
    assert not list((tmp_path / "scorer").glob("*.bin")) and not list(
        (tmp_path / "scorer").glob("*.pkl")
    )
    loaded = CrossEncoderScorer.load(tmp_path / "scorer")
    pairs = [("The bulb is in a closed path with the battery.", "closed path"), ("x", "no")]
    assert np.allclose(fitted.probabilities(pairs), loaded.probabilities(pairs), atol=1e-6)
    assert loaded.reference_choice == fitted.reference_choice == "embedding"
    manifest["parameters"]["reference_choice"] = "lexical"
    (tmp_path / "scorer" / "scorer.json").write_text(json.dumps(manifest))
    assert CrossEncoderScorer.load(tmp_path / "scorer").reference_choice == "lexical"
    # a scorer saved before the reference choice was a parameter chose by embeddings
    del manifest["parameters"]["reference_choice"]
    (tmp_path / "scorer" / "scorer.json").write_text(json.dumps(manifest))
    assert CrossEncoderScorer.load(tmp_path / "scorer").reference_choice == "embedding"
    manifest["schema_version"] = SCHEMA_VERSION + 1
    (tmp_path / "scorer" / "scorer.json").write_text(json.dumps(manifest))
    with pytest.raises(ValidationError) as caught:
        CrossEncoderScorer.load(tmp_path / "scorer")
    assert caught.value.field == "schema_version"
    with pytest.raises(ValidationError) as missing:
        CrossEncoderScorer.load(tmp_path / "nowhere")
    assert missing.value.field == "scorer_model"


def test_batched_scoring_puts_every_answer_back_in_its_place(fitted: object) -> None:
    from masterypath.nlp.cross_encoder import CrossEncoderScorer

    assert isinstance(fitted, CrossEncoderScorer)
    reference = "The bulb is in a closed path with the battery."
    answers = [text for rubric, text, _ in TRAIN if rubric is BULB] * 3  # several batches
    answers[5] = "a long answer that rambles on about batteries, bulbs, wires and paths " * 3
    pairs = [(reference, a) for a in answers]
    together = fitted.probabilities(pairs)
    alone = np.vstack([fitted.probabilities([p]) for p in pairs])
    assert np.allclose(together, alone, atol=1e-5)
    judged = fitted.score_many([(a, BULB) for a in answers])
    assert [j[0].level_id for j in judged] == [fitted.levels_[int(np.argmax(row))] for row in alone]


def test_prepare_embeds_the_references_to_choose_from_ahead(fitted: object) -> None:
    from masterypath.domain.scoring import SimilarityScorer
    from masterypath.nlp.cross_encoder import CrossEncoderScorer
    from tests.unit.test_rubric_scoring import RecordingEncoder

    assert isinstance(fitted, CrossEncoderScorer)
    scorer = copy.copy(fitted)
    encoder = RecordingEncoder()
    scorer.fallback = SimilarityScorer(encoder=encoder)
    references = ("The bulb is in a closed path.", "There is a closed loop with the battery.")
    two = question("two", "Why does the bulb light?", references[0])
    top = replace(two.criteria[0].levels[1], references=references)
    two = replace(
        two, criteria=(replace(two.criteria[0], levels=(two.criteria[0].levels[0], top)),)
    )
    scorer.prepare([two, BULB])  # BULB has one reference: nothing to choose, nothing embedded
    assert sorted(encoder.seen) == sorted(references)
    encoder.seen.clear()
    judged = scorer.score_many([("a closed loop", two)])
    assert encoder.seen == ["a closed loop"]
    unprepared = copy.copy(fitted)
    unprepared.fallback = SimilarityScorer(encoder=RecordingEncoder())
    assert judged == unprepared.score_many([("a closed loop", two)])


def test_bad_input_is_refused_with_the_field_named() -> None:
    from masterypath.nlp.cross_encoder import CrossEncoderScorer

    with pytest.raises(NotFittedError):
        CrossEncoderScorer().score("anything", BULB)
    with pytest.raises(ValidationError) as empty:
        CrossEncoderScorer().fit([])
    assert empty.value.field == "examples"
    one_level = [(BULB, "answer", "closed path", "correct")] * 3
    with pytest.raises(ValidationError) as single:
        CrossEncoderScorer().fit(one_level)
    assert single.value.field == "examples"
    with pytest.raises(ValidationError) as epochs:
        CrossEncoderScorer(epochs=0).fit(one_level)
    assert epochs.value.field == "epochs"
    with pytest.raises(ValidationError) as level:
        CrossEncoderScorer().fit([(BULB, "answer", "closed path", "great")])
    assert level.value.field == "level_id"
    with pytest.raises(ValidationError) as choice:
        CrossEncoderScorer(reference_choice="random").fit(one_level)
    assert choice.value.field == "reference_choice"
