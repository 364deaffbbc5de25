"""The real-pods corpus: nothing crashes, the ACI emulator accepts every body, and the docs' report is current."""

from __future__ import annotations

from pathlib import Path

from tests.corpus import REPORT_BEGIN, REPORT_END, report, translate_corpus

DOC = Path(__file__).resolve().parents[2] / "docs" / "pod-spec-support.md"


def test_corpus_translates_without_crash_and_the_documented_report_is_current() -> None:
    outcomes = translate_corpus()  # raises on anything but UnsupportedPodSpec, and on a body the emulator refuses
    pods = {id(o.real) for o in outcomes}
    assert len(pods) >= 150
    for outcome in outcomes:
        assert (outcome.body is None) != (outcome.rejection is None)
        if outcome.rejection:
            assert outcome.rejection.startswith("spec") or outcome.rejection.startswith("metadata"), outcome.rejection
    text = DOC.read_text()
    documented = text[text.index(REPORT_BEGIN) : text.index(REPORT_END) + len(REPORT_END)]
    assert documented == report(outcomes), "run `python -m tests.corpus` and paste its output into the doc"
