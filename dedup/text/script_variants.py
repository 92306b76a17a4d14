"""Folding of Chinese script variants to one canonical character.

OpenCC's t2s converts traditional text, but a repost converted with s2tw or
s2hk and brought back with t2s does not always land on the original
character (着/著, 卫/衞, 余/馀). We compute, once, the classes of characters
that any OpenCC round trip can confuse and map each class to one member, so
that simplified, Taiwan and Hong Kong forms of a text normalize alike.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import opencc

_CJK_RANGES = ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00))
_ROUND_TRIPS = ("s2t", "s2tw", "s2hk", "s2twp", "t2s", "tw2s", "hk2s")


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def _canonical_key(ch: str, t2s_hits: dict[str, int]) -> tuple[int, bool, int]:
    """Prefer what t2s most often produces, then GB2312 (the common simplified set), then the lowest code point."""
    try:
        ch.encode("gb2312")
        common = True
    except UnicodeEncodeError:
        common = False
    return (-t2s_hits.get(ch, 0), not common, ord(ch))


def _find(parent: dict[str, str], ch: str) -> str:
    while parent.get(ch, ch) != ch:
        parent[ch] = parent.get(parent[ch], parent[ch])
        ch = parent[ch]
    return ch


def _union(parent: dict[str, str], a: str, b: str) -> None:
    parent.setdefault(a, a)
    parent.setdefault(b, b)
    ra, rb = _find(parent, a), _find(parent, b)
    if ra != rb:
        parent[ra] = rb


@lru_cache(maxsize=1)
def variant_fold_table() -> dict[int, str]:
    """Map every character that OpenCC can confuse to its class's canonical member."""
    chars = [chr(c) for lo, hi in _CJK_RANGES for c in range(lo, hi)]
    joined = "\n".join(chars)
    parent: dict[str, str] = {}
    simplified = _t2s().convert(joined).split("\n")
    for config in _ROUND_TRIPS:
        converted = opencc.OpenCC(config).convert(joined).split("\n")
        back = _t2s().convert("\n".join(converted)).split("\n")
        for group in (converted, back):
            for original, other in zip(chars, group):
                if len(other) == 1 and other != original:
                    _union(parent, original, other)
    t2s_hits: dict[str, int] = {}
    for original, other in zip(chars, simplified):
        if len(other) == 1 and other != original:
            _union(parent, original, other)
            t2s_hits[other] = t2s_hits.get(other, 0) + 1
    members: dict[str, list[str]] = {}
    for ch in list(parent):
        members.setdefault(_find(parent, ch), []).append(ch)
    table: dict[int, str] = {}
    for group in members.values():
        canonical = min(group, key=lambda ch: _canonical_key(ch, t2s_hits))
        for ch in group:
            if ch != canonical:
                table[ord(ch)] = canonical
    return table


def _absolute_files(node: object, base: Path) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("file"), str) and not Path(node["file"]).is_absolute():
            node["file"] = str(base / node["file"])
        for value in node.values():
            _absolute_files(value, base)
    elif isinstance(node, list):
        for value in node:
            _absolute_files(value, base)


@lru_cache(maxsize=1)
def _folding_converter() -> opencc.OpenCC:
    """OpenCC's t2s with our variant fold appended as one more dictionary: one pass does both."""
    share = Path(opencc.__file__).parent / "clib" / "share" / "opencc"
    config = json.loads((share / "t2s.json").read_text(encoding="utf-8"))
    _absolute_files(config, share)
    folder = Path(tempfile.mkdtemp(prefix="dedup-opencc-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    lines = (f"{chr(code)}\t{canonical}\n" for code, canonical in sorted(variant_fold_table().items()))
    (folder / "fold.txt").write_text("".join(lines), encoding="utf-8")
    config["conversion_chain"].append({"dict": {"type": "text", "file": str(folder / "fold.txt")}})
    (folder / "t2s_fold.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return opencc.OpenCC(str(folder / "t2s_fold.json"))


def to_simplified(text: str) -> str:
    """Traditional (any regional variant) to simplified, then fold the variants OpenCC leaves apart."""
    return _folding_converter().convert(text)
