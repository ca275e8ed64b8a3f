"""Would textblob's bundled tagger and chunker pay for the offline extractor? (issue #15)

textblob (PyPI, MIT) ships Pattern's English lexicon, Brill rules and chunker inside the
package: no download. It is NOT a dependency of this project (see BENCHMARKS.md, "Fact
extraction, issue #15 fifth round"); this probe measures it where it is importable, e.g.
after `pip install --target DIR --no-deps textblob nltk defusedxml` and `PYTHONPATH=DIR`:

- what loading it costs a worker (CPU, peak RSS), through the package (which imports
  nltk) and through `textblob.en` alone (the package's `__init__` bypassed);
- CPU per statement to tag and chunk every statement of both fact-eval batches (text
  only: the sealed parts' items are never printed);
- on the dev parts only, how often a word right after a subject pronoun ("I work", "we
  own") is tagged as a verb, modal or adverb: the first thing a parse must get right.

    .venv/bin/python -m bench.tagger_probe [--via-package]
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import resource
import sys
import time
import types


def _rss_mib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--via-package", action="store_true", help="import textblob as a package (loads nltk)"
    )
    args = parser.parse_args()
    spec = importlib.util.find_spec("textblob")
    if spec is None or not spec.submodule_search_locations:
        print("textblob is not importable here (it is not a project dependency)")
        return 1
    from bench.fact_eval import statements_load

    texts = [i["text"] for i in statements_load(part="all", batch="all")]
    dev = [i["text"] for i in statements_load(part="dev", batch="all")]
    before, started = _rss_mib(), time.process_time()
    if not args.via_package:
        # textblob/__init__ imports nltk (~130 MiB); textblob.en needs none of it.
        package = types.ModuleType("textblob")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["textblob"] = package
    from textblob.en import parse  # type: ignore[import-not-found]

    parse("warm up")
    print(
        f"load: {time.process_time() - started:.3f} s CPU, peak RSS {before} -> {_rss_mib()} MiB"
        f" ({'package, with nltk' if args.via_package else 'textblob.en alone'})"
    )
    for round_ in range(3):
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            for text in texts:
                parse(text)
            best = min(best, (time.process_time() - started) / len(texts) * 1000)
        print(f"round {round_}: {len(texts)} statements, best {best:.3f} ms CPU per statement")
    total = verbal = 0
    for text in dev:
        for sentence in parse(text).split():
            for (word, _, *_), (after, tag, *_) in zip(sentence, sentence[1:], strict=False):
                if word.lower() in ("i", "we", "they", "he", "she") and re.match(
                    r"^[a-z]+$", after
                ):
                    total += 1
                    verbal += tag.startswith(("VB", "MD", "RB"))
    print(f"dev parts: {verbal}/{total} words after a subject pronoun tagged verb/modal/adverb")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
