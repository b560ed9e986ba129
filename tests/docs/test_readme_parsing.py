"""How README's examples are read and compared (tests/docs/readme_examples.py): a wrong answer or a broken example
is found, so the README test can fail."""

from __future__ import annotations

from tests.docs.readme_examples import body_examples, curl_examples, loads_shown, mismatches

SAMPLE = '''# Sample

```bash
curl -s http://127.0.0.1:3003/api/v1/health
```
```json
{"status": "ok", "worker": {"connected": true, ...}}
```

```bash
curl -s -X POST http://127.0.0.1:3003/api/v1/bars -H 'Content-Type: application/json' \\
     -d '{"symbol": "AAPL"}'
curl -s -X POST http://127.0.0.1:3003/api/v1/disconnect   # {"success": true, "state": "stopped"}
curl -s -X POST http://127.0.0.1:3003/api/v1/connect
# {"success": true, "state": "connecting"}
```

| field | meaning |
|---|---|
| `exchange` | e.g. `{"symbol": "EUR", "sec_type": "CASH"}` |
'''


def test_curl_examples_pair_each_command_with_the_answer_shown_for_it():
    examples = curl_examples(SAMPLE)
    assert [e.command for e in examples] == [
        "curl -s http://127.0.0.1:3003/api/v1/health",
        "curl -s -X POST http://127.0.0.1:3003/api/v1/bars -H 'Content-Type: application/json' -d '{\"symbol\": "
        "\"AAPL\"}'",
        "curl -s -X POST http://127.0.0.1:3003/api/v1/disconnect",
        "curl -s -X POST http://127.0.0.1:3003/api/v1/connect",
    ]
    assert [e.expected for e in examples] == [{"status": "ok", "worker": {"connected": True}}, None,
                                              {"success": True, "state": "stopped"},
                                              {"success": True, "state": "connecting"}]


def test_inline_request_bodies_are_found():
    assert [b.body for b in body_examples(SAMPLE)] == [{"symbol": "EUR", "sec_type": "CASH"}]


def test_an_ellipsis_marks_what_an_example_leaves_out():
    assert loads_shown('{"bars": [{"time": 1}, ...], "count": 78, ...}') == {"bars": [{"time": 1}], "count": 78}


def test_stable_values_must_be_equal_and_the_rest_of_the_same_type():
    shown = {"success": True, "count": 78, "bars": [{"date": "20250127 09:30:00", "volume": 1}]}
    assert mismatches(shown, {"success": True, "count": 12, "bars": [{"date": "x", "volume": 2.5}], "more": 1}) == []
    assert mismatches(shown, {"success": False, "count": 78, "bars": [{"date": "x", "volume": 1}]}) == [
        ".success: expected True, got False"]
    assert mismatches(shown, {"success": True, "count": "78", "bars": []}) == [
        ".count: expected a number, got '78'", ".bars: expected items, got none"]
    assert mismatches({"state": "stopped"}, {"success": True}) == [".state: missing"]
