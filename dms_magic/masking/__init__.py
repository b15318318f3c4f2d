"""Local PII engine: find and mask sensitive data in Chinese and English text, DMS-style.

>>> from dms_magic.masking import mask
>>> mask("我叫张伟，手机13812345678").text
'我叫张*，手机138****5678'

Importing this package is cheap: regexes compile on first use; pandas loads only when
``MaskResult.spans`` is read and jieba only when a name candidate needs segmenting.
"""
from __future__ import annotations

from dms_magic.masking.engine import detect, mask, mask_messages, resolve_overlaps, rule_counts, suggest_rule
from dms_magic.masking.messages import mask_text_parts
from dms_magic.masking.operators import MaskingSession, OperatorConfigError, decrypt, encrypt
from dms_magic.masking.recognizers import Detection
from dms_magic.masking.result import MaskedMessages, MaskedSpan, MaskResult
from dms_magic.masking.rules import (
    CONFIG_ENV, DEFAULT_RULE, ENTITIES, MaskingConfig, MaskingConfigError, UnknownRuleError,
    default_config, default_config_path, load_config, resolve_config, rule_categories,
)

__all__ = [
    "mask", "mask_messages", "mask_text_parts", "suggest_rule", "rule_counts", "MaskedMessages", "detect", "MaskResult", "MaskedSpan", "Detection", "MaskingSession", "rule_categories",
    "UnknownRuleError", "load_config", "MaskingConfig", "MaskingConfigError", "OperatorConfigError",
    "default_config", "default_config_path", "resolve_config", "encrypt", "decrypt", "resolve_overlaps",
    "CONFIG_ENV", "DEFAULT_RULE", "ENTITIES",
]
