"""The optional LLM scorer against a tiny local HTTP server: a good answer is used; errors,
timeouts, malformed JSON and invalid judgements fall back to the offline scorer and say so."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from masterypath.domain.scoring import SimilarityScorer
from masterypath.nlp.llm import LlmScorer
from tests.http_stub import serving
from tests.unit.test_rubric_scoring import CIRCUITS, GOOD

REPLIES: list[tuple[int, Any]] = []
SEEN: list[dict[str, Any]] = []


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        SEEN.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        status, body = REPLIES.pop(0)
        if body == "sleep":
            time.sleep(1.0)
            body = {}
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the timeout case)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with serving(Handler) as port:
        yield f"http://127.0.0.1:{port}/v1"


def chat(content: Any) -> dict[str, Any]:
    text = content if isinstance(content, str) else json.dumps(content)
    return {"choices": [{"message": {"role": "assistant", "content": text}}]}


GOOD_JUDGEMENTS = {
    "judgements": [
        {
            "criterion_id": "path",
            "level_id": "met",
            "confidence": 0.9,
            "support": [
                "There is a closed path from the battery through the bulb and back.",
                "invented",
            ],
        },
        {"criterion_id": "terminals", "level_id": "missing", "confidence": 0.7, "support": []},
    ]
}


def scorer(url: str, timeout: float = 5.0) -> LlmScorer:
    return LlmScorer(
        url=url, model="tiny", fallback=SimilarityScorer(), api_key="k", timeout=timeout
    )


def test_a_valid_answer_is_used_and_its_support_checked(endpoint: str) -> None:
    REPLIES.append((200, chat(GOOD_JUDGEMENTS)))
    judged = scorer(endpoint).score(GOOD, CIRCUITS)
    assert [(j.criterion_id, j.level_id, j.scorer) for j in judged] == [
        ("path", "met", "llm:tiny"),
        ("terminals", "missing", "llm:tiny"),
    ]
    # a "supporting sentence" that is not in the answer is dropped
    assert judged[0].support == (
        "There is a closed path from the battery through the bulb and back.",
    )
    request = SEEN[-1]
    assert request["model"] == "tiny" and request["response_format"]["type"] == "json_schema"


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ((500, {"error": "boom"}), "endpoint failed"),
        ((200, b"{not json"), "not the expected JSON"),
        ((200, chat("I think it is fine")), "not the expected JSON"),
        (
            (
                200,
                chat(
                    {"judgements": [{"criterion_id": "path", "level_id": "met", "confidence": 2}]}
                ),
            ),
            "judgements were invalid",
        ),
        (
            (
                200,
                chat(
                    {
                        "judgements": [
                            {"criterion_id": "path", "level_id": "nope", "confidence": 0.5},
                            {"criterion_id": "terminals", "level_id": "met", "confidence": 0.5},
                        ]
                    }
                ),
            ),
            "judgements were invalid",
        ),
        ((200, "sleep"), "endpoint failed"),
    ],
)
def test_failures_fall_back_to_the_offline_scorer_and_say_so(
    endpoint: str, reply: tuple[int, Any], reason: str
) -> None:
    REPLIES.append(reply)
    judged = scorer(endpoint, timeout=0.5).score(GOOD, CIRCUITS)
    offline = SimilarityScorer().score(GOOD, CIRCUITS)
    assert [(j.level_id, j.scorer) for j in judged] == [(j.level_id, j.scorer) for j in offline]
    assert all(reason in j.note and j.note.startswith("offline scorer used") for j in judged)


def test_an_unreachable_endpoint_falls_back() -> None:
    judged = scorer("http://127.0.0.1:1/v1", timeout=0.5).score(GOOD, CIRCUITS)
    assert judged[0].note.startswith("offline scorer used: the model endpoint failed")


def test_prepare_prepares_the_fallback_and_asks_the_model_nothing(endpoint: str) -> None:
    llm = scorer(endpoint)
    before = len(SEEN)
    llm.prepare([CIRCUITS])
    assert isinstance(llm.fallback, SimilarityScorer)
    assert len(llm.fallback._vectorizers) == len(CIRCUITS.criteria)
    assert len(SEEN) == before
