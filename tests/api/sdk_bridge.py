"""Runs the official SDK (`claiv-memory`) in its own process for the tests.

The SDK's import name is `claiv`, the same as this project's settings package, so the two
cannot be imported into one interpreter. The tests start this script with `python -I` (the
project root is not on its path, so `import claiv` is the SDK) and send it one JSON line per
call: {"client": {ClaivClient kwargs}, "method": name, "args": [...], "kwargs": {...}}.
It answers {"result": ...} or {"error": {"type", "status", "code", "request_id", "details",
"message"}} on one line.
"""

import json
import sys

import claiv


def main() -> None:
    assert not hasattr(claiv, "settings"), "imported the server package, not the SDK"
    for line in sys.stdin:
        call = json.loads(line)
        try:
            with claiv.ClaivClient(**call["client"]) as client:
                result = getattr(client, call["method"])(
                    *call.get("args", []), **call.get("kwargs", {})
                )
            answer = {"result": result}
        except claiv.ClaivApiError as exc:
            answer = {
                "error": {
                    "type": "ClaivApiError",
                    "status": exc.status,
                    "code": exc.code,
                    "request_id": exc.request_id,
                    "details": exc.details,
                    "message": str(exc),
                }
            }
        except claiv.ClaivError as exc:
            answer = {"error": {"type": type(exc).__name__, "message": str(exc)}}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
