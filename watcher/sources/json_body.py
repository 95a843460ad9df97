"""A JSON answer's body, decoded with one reason a person can read for each way it can be wrong."""

from __future__ import annotations

import json
from typing import Any

from ..errors import ParseError


def json_document(body: bytes, name: str) -> Any:
    """The decoded document; ParseError "<name>: the answer is not JSON" (or not UTF-8, or nested
    so deep that the decoder gives up) otherwise."""
    problem = None
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        problem = "the answer is not valid UTF-8 JSON"
    except RecursionError:  # arrays nested thousands deep
        problem = "the answer is nested too deeply"
    except ValueError:
        problem = "the answer is not JSON"
    raise ParseError(f"{name}: {problem}")  # outside the except blocks: no chained traceback
