"""Block-style YAML of plain data (dict, list, str, int, float, bool, None), fast.

PyYAML's representer and resolver, pure Python even over libyaml's emitter, cost nine times the
planning of a plan to write it. This writes the same block layout as `yaml.safe_dump(...,
sort_keys=False, allow_unicode=True)` (2-space indent, a mapping's sequences not indented, `{}`
and `[]` for empty ones, floats as PyYAML writes them) with simpler scalars:

- a string is plain only where no YAML 1.1 reader could take it for anything else: it starts
  with a letter or `_`, holds only letters, digits and ` _.,/()%+=;'[]-`, does not end in a space,
  and is none of yes/no/true/false/on/off/null/y/n in any case; every other string is written
  double-quoted (JSON's escapes, which YAML shares, plus `\\uXXXX` for the characters YAML may not
  hold raw), on one line, never folded;
- a key likewise, written as an explicit `? key` when its quoted form is too long for YAML's
  1,024-character implicit key.

`yaml.safe_load` of the text is the data written (tests/planner/render/test_block_yaml.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from json.encoder import encode_basestring
from typing import Any, TypeVar

__all__ = ["BlockYaml", "remember"]

_K = TypeVar("_K")
_V = TypeVar("_V")

# possessive (`*+`): a string that is not plain fails at its first other character, at once
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_ .,/()%+=;'[\]-]*+")

#: Plain-looking words YAML 1.1 reads as booleans or null (PyYAML leaves out y and n; others don't).
_WORDS = frozenset({"yes", "no", "true", "false", "on", "off", "null", "y", "n"})

#: What JSON leaves raw but YAML may not hold raw (C1 controls, DEL, line and paragraph
#: separators, BOM, surrogates, non-characters).
_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")

#: Longest quoted key written as an implicit `key: value` (YAML allows 1,024 characters).
_KEY_MAX = 1000

#: Strings and keys remembered rendered per writer (names and units repeat thousands of times;
#: a long string, a sentence, is mostly written once).
_CACHE_MAX = 1 << 17
_CACHED_LENGTH = 64


def remember(cache: dict[_K, _V], key: _K, text: _V) -> None:
    """Keep `text` as `key`'s in `cache`, emptied when full: a large plan's distinct names would
    fill it for good, and what repeats most (units, mechanism types) is soon back."""
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[key] = text


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match[0]):04x}"


#: A plain scalar inside a flow collection (`{a: b}`): as in a block, less the flow indicators.
_FLOW_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_ ./()%+=;'-]*+")


def scalar_text(value: str, plain: re.Pattern[str] = _PLAIN) -> str:
    """`value` as a YAML scalar: plain where it reads back as this string, else double-quoted
    (`plain`: what a plain scalar may be where it is written)."""
    if plain.fullmatch(value) and value[-1] != " " and value.lower() not in _WORDS:
        return value
    return quoted_text(value)


def flow_scalar_text(value: str) -> str:
    """`value` as a scalar inside a flow collection: as `scalar_text`, but quoted where it holds
    one of the flow indicators `,[]{}`."""
    return scalar_text(value, _FLOW_PLAIN)


def quoted_text(value: str) -> str:
    """`value` as a double-quoted YAML scalar on one line."""
    quoted = encode_basestring(value)
    if quoted.isascii() and "\x7f" not in quoted:  # DEL is the one ASCII character to escape
        return quoted
    return _UNSAFE.sub(_escape, quoted)


def float_text(value: float) -> str:
    """`value` as PyYAML writes a float: repr, `.inf`/`.nan`, `1.0e+16` rather than `1e+16`."""
    if value != value:
        return ".nan"
    if value - value != 0.0:
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    if "e" in text and "." not in text:
        text = text.replace("e", ".0e", 1)
    return text


class BlockYaml:
    """A writer of plain data as block YAML lines; remembers rendered strings and keys."""

    def __init__(self) -> None:
        self._strings: dict[str, str] = {}
        self._flow_strings: dict[str, str] = {}
        self._keys: dict[str, str] = {}
        self._floats: dict[float, str] = {}

    def entry(self, key: str, value: Any, pad: str, out: list[str]) -> None:
        """Append `key: value` as lines of a mapping indented by `pad`."""
        self.mapping({key: value}, pad, pad, out)

    def item(self, value: Any, pad: str, out: list[str]) -> None:
        """Append `- value` as lines of a sequence indented by `pad`."""
        self.sequence((value,), pad, pad, out)

    def document(self, value: Any) -> str:
        """`value` alone as a YAML document."""
        out: list[str] = []
        if type(value) is dict and value:
            self.mapping(value, "", "", out)
        elif type(value) is list and value:
            self.sequence(value, "", "", out)
        else:
            out.append(self._scalar(value) + "\n")
        return "".join(out)

    def mapping(self, value: Mapping[str, Any], pad: str, first: str, out: list[str]) -> None:
        """Append the lines of the non-empty mapping `value`, keys at `pad`, its first line
        starting with `first` (as wide as `pad`: `- ` in a sequence)."""
        strings, floats, keys = self._strings, self._floats, self._keys
        lead = first
        inner = pad + "  "
        for k, v in value.items():
            key = keys.get(k) or self.key(k, pad)
            t = type(v)
            # the scalar types in the order of how often a plan document holds them
            if t is str:
                out.append(f"{lead}{key} {strings.get(v) or self._string(v)}\n")
            elif t is dict:
                if v:
                    out.append(f"{lead}{key}\n")
                    self.mapping(v, inner, inner, out)
                else:
                    out.append(f"{lead}{key} {{}}\n")
            elif t is float:
                out.append(f"{lead}{key} {floats.get(v) or self._float(v)}\n")
            elif t is int:
                out.append(f"{lead}{key} {v}\n")
            elif t is list:
                if v:
                    out.append(f"{lead}{key}\n")
                    self.sequence(v, pad, pad, out)  # a mapping's sequence is not indented
                else:
                    out.append(f"{lead}{key} []\n")
            else:
                out.append(f"{lead}{key} {self._scalar(v)}\n")
            lead = pad

    def sequence(self, value: Sequence[Any], pad: str, first: str, out: list[str]) -> None:
        """Append the lines of the non-empty sequence `value`, dashes at `pad`, its first line
        starting with `first`."""
        strings, floats = self._strings, self._floats
        lead = first + "- "
        inner = pad + "  "
        for v in value:
            t = type(v)
            if t is str:
                out.append(f"{lead}{strings.get(v) or self._string(v)}\n")
            elif t is dict and v:
                self.mapping(v, inner, lead, out)
            elif t is float:
                out.append(f"{lead}{floats.get(v) or self._float(v)}\n")
            elif t is int:
                out.append(f"{lead}{v}\n")
            elif t is list and v:
                self.sequence(v, inner, lead, out)
            else:
                out.append(f"{lead}{self._scalar(v)}\n")
            lead = pad + "- "

    def _string(self, value: str) -> str:
        text = scalar_text(value)
        if len(value) <= _CACHED_LENGTH:
            remember(self._strings, value, text)
        return text

    def _flow_string(self, value: str) -> str:
        """`value` as a scalar in a flow collection (`flow_scalar_text`), remembered as `_string`
        remembers block scalars."""
        text = self._flow_strings.get(value)
        if text is None:
            text = flow_scalar_text(value)
            if len(value) <= _CACHED_LENGTH:
                remember(self._flow_strings, value, text)
        return text

    def _float(self, value: float) -> str:
        text = float_text(value)
        # not ±0.0, which are one key but written apart
        if value:
            remember(self._floats, value, text)
        return text

    def key(self, key: str, pad: str) -> str:
        """`key:` as written before its value at `pad` (a long key as `? key`, then `:` on the
        next line)."""
        if type(key) is not str:
            raise TypeError(f"a YAML mapping key must be a string, not {type(key).__name__}")
        text = scalar_text(key)
        if len(text) > _KEY_MAX:
            return f"? {text}\n{pad}:"
        remember(self._keys, key, text + ":")
        return text + ":"

    def _scalar(self, value: Any) -> str:
        """Any value but a non-empty dict or list, as one YAML scalar (or `{}`, `[]`)."""
        if value is None:
            return "null"
        if value is True:
            return "true"
        if value is False:
            return "false"
        if isinstance(value, str):
            return scalar_text(str.__str__(value))
        if isinstance(value, int):
            return int.__repr__(value)
        if isinstance(value, float):
            return float_text(float(value))
        if isinstance(value, dict) and not value:
            return "{}"
        if isinstance(value, list) and not value:
            return "[]"
        raise TypeError(f"cannot write {type(value).__name__} as plain YAML data")
