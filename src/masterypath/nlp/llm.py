"""An optional scorer that asks an OpenAI-compatible chat endpoint, and falls back.

Off by default (``MASTERYPATH_LLM_URL`` unset). The request asks for a JSON answer
constrained by a JSON schema; the answer is validated (every criterion once, known level
ids, a confidence in [0, 1], support sentences that really are in the submission). On a
timeout, an HTTP or network error, or an answer that does not validate, the offline
scorer judges instead and each judgement's ``note`` says why. The system never depends on
the endpoint. Uses only the standard library's HTTP client.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from masterypath.domain.alignment import TextEncoder
from masterypath.domain.rubric import Judgement, Rubric
from masterypath.domain.scoring import SimilarityScorer
from masterypath.errors import ValidationError
from masterypath.settings import Settings


class OfflineScorer(Protocol):
    """What the LLM scorer falls back to: any scorer that needs no network."""

    @property
    def name(self) -> str: ...

    def prepare(self, rubrics: Sequence[Rubric]) -> None: ...

    def score(self, submission: str, rubric: Rubric) -> tuple[Judgement, ...]: ...


class _Judged(BaseModel):
    model_config = ConfigDict(extra="forbid")
    criterion_id: str
    level_id: str
    confidence: float = Field(ge=0.0, le=1.0)
    support: list[str] = []


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    judgements: list[_Judged]


SCHEMA = _Answer.model_json_schema()


class LlmScorer:
    """Judge with a chat model at ``url`` (``.../v1``), else with ``fallback``."""

    def __init__(
        self,
        *,
        url: str,
        model: str,
        fallback: OfflineScorer,
        api_key: str = "",
        timeout: float = 20.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.model = model
        self.fallback = fallback
        self.api_key = api_key
        self.timeout = timeout

    @property
    def name(self) -> str:
        return f"llm:{self.model}"

    def prepare(self, rubrics: Sequence[Rubric]) -> None:
        """Prepare the fallback (the model needs nothing ahead)."""
        self.fallback.prepare(rubrics)

    def _prompt(self, submission: str, rubric: Rubric) -> str:
        lines = [f"Rubric: {rubric.title}"]
        for c in rubric.criteria:
            lines.append(f"Criterion {c.id} ({c.title}); levels, lowest first:")
            lines += [f"  - {lv.id}: {lv.descriptor}" for lv in c.levels]
        lines.append(
            "Judge the student's answer on every criterion. Quote, in `support`, the "
            "sentences of the answer that justify each level. Answer with JSON only."
        )
        lines.append(f"Answer: {submission}")
        return "\n".join(lines)

    def _ask(self, submission: str, rubric: Rubric) -> Any:
        body = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": "You grade short answers against a rubric."},
                {"role": "user", "content": self._prompt(submission, rubric)},
            ],
            "temperature": 0,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "judgements", "schema": SCHEMA, "strict": True},
            },
        }
        request = urllib.request.Request(
            self.url + "/chat/completions",
            data=json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}),
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            reply = json.loads(response.read())
        return json.loads(reply["choices"][0]["message"]["content"])

    def score(self, submission: str, rubric: Rubric) -> tuple[Judgement, ...]:
        try:
            answer = _Answer.model_validate(self._ask(submission, rubric))
            return self._checked(answer, submission, rubric)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = f"the model endpoint failed ({type(exc).__name__}: {exc})"
        except (KeyError, IndexError, TypeError, json.JSONDecodeError) as exc:
            reason = f"the model's reply was not the expected JSON ({type(exc).__name__})"
        except (PydanticValidationError, ValidationError, ValueError) as exc:
            reason = f"the model's judgements were invalid ({str(exc).splitlines()[0]})"
        note = f"offline scorer used: {reason}"
        return tuple(
            Judgement(j.criterion_id, j.level_id, j.confidence, j.support, j.scorer, note)
            for j in self.fallback.score(submission, rubric)
        )

    def _checked(self, answer: _Answer, submission: str, rubric: Rubric) -> tuple[Judgement, ...]:
        by_id = {j.criterion_id: j for j in answer.judgements}
        wanted = [c.id for c in rubric.criteria]
        if sorted(by_id) != sorted(wanted) or len(by_id) != len(answer.judgements):
            raise ValueError(f"judged {sorted(by_id)}, expected each of {sorted(wanted)} once")
        out = []
        for c in rubric.criteria:
            j = by_id[c.id]
            c.level(j.level_id)  # raises ValidationError for an unknown level
            support = tuple(s for s in j.support if s and s.strip() in submission)
            out.append(Judgement(c.id, j.level_id, j.confidence, support, self.name))
        return tuple(out)


def make_scorer(settings: Settings, encoder: TextEncoder | None) -> OfflineScorer | LlmScorer:
    """The offline scorer, wrapped by the LLM scorer when ``MASTERYPATH_LLM_URL`` is set.

    Offline: the fitted cross-encoder in ``MASTERYPATH_SCORER_MODEL`` when set, else the
    similarity scorer (MiniLM when the nlp extra is there, else TF-IDF)."""
    similarity = SimilarityScorer(encoder=encoder)
    offline: OfflineScorer = similarity
    if settings.scorer_model:
        from masterypath.nlp.cross_encoder import CrossEncoderScorer

        offline = CrossEncoderScorer.load(Path(settings.scorer_model), fallback=similarity)
    if not settings.llm_url:
        return offline
    return LlmScorer(
        url=settings.llm_url,
        model=settings.llm_model,
        fallback=offline,
        api_key=settings.llm_api_key,
        timeout=settings.llm_timeout,
    )
