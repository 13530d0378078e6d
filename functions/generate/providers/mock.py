"""The offline `mock` provider: deterministic, schema-valid documents, clearly labelled.

For development and tests (production refuses it at settings load). Content
comes from `functions.generate.mock_content`; token counts are estimated from
text length (about 4 characters a token) and priced at the table's known $0.
"""

from __future__ import annotations

import json
import math

from functions.generate.providers.base import Call, Completion

MOCK_MODEL = "mock-1"


def estimate_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


class MockProvider:
    name = "mock"

    def __init__(self, settings) -> None:
        self.model = MOCK_MODEL

    def configured(self) -> bool:
        return True

    def complete(self, call: Call) -> Completion:
        from functions.generate import mock_content

        request = call.request
        data = mock_content.build(
            call.content_type,
            topic=request.topic,
            audience=request.audience,
            learning_objectives=list(request.learning_objectives or []),
            language=request.language,
            attempt=call.generation,
        )
        text = json.dumps(data, ensure_ascii=False)
        return Completion(text=text, data=data, input_tokens=estimate_tokens(call.prompt.text),
                          output_tokens=estimate_tokens(text), model=self.model)
