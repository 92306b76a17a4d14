"""Changes the dev set does not contain: reposts made with other kinds of noise must still be found, and
twins made by changing one fact must not be.

Stores the dev set's originals (plain text, over 300 characters), then asks the engine (`query_text`,
nothing stored) about variants of each: fourteen repost-like kinds (1% and 3% typos, ad lines, editor
notes, statements, emoji bullets, an English wrapper, a repeated title, full-width digits, Markdown images,
an HTML page, zero-width spaces, corner quotes, hard line breaks) and two twin-like kinds (a number raised
by 3; a place, person or organisation word past the opening replaced by another of its kind). Reports how
often the original is found.

    .venv/bin/python bench/variations.py [--originals 300]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import jieba.posseg as pseg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from noise import typos  # noqa: E402

from dedup.engine import Engine  # noqa: E402
from dedup.models import ArticleIn  # noqa: E402
from dedup.settings import Settings  # noqa: E402

_OPENING = 60  # characters of dateline and source an edit may rewrite without changing the story
_OTHERS = {"ns": ("斯洛伐克", "新西兰", "广州", "西藏", "巴西"), "nr": ("王建国", "张伟", "刘洋"),
           "nt": ("外交部", "商务部", "联合国")}


def _typos(text: str, rate: float, seed: int) -> str:
    """Typos that type in characters of the text itself."""
    return typos(random.Random(seed), text, rate, text)


def reposts(text: str) -> Iterator[tuple[str, str, bool]]:
    """(kind, variant, is_html) a repost site could make of `text`."""
    paras = text.split("\n")
    yield "typos_1pct", _typos(text, 0.01, len(text)), False
    yield "typos_3pct", _typos(text, 0.03, len(text) + 1), False
    yield "ad_lines", "\n".join(paras[:1] + ["扫码关注公众号，获取更多资讯"] + paras[1:] +
                                ["点击“阅读原文”查看更多", "原文链接：https://news.example.com/a/123.html"]), False
    yield "editor_brackets", text + "\n【编辑：张三 审核：李四】", False
    yield "statement", text + "\n声明：本文转载自网络，仅供学习交流，如有侵权请联系删除。", False
    yield "emoji_bullets", "\n".join("👉 " + p for p in paras), False
    yield "english_wrap", "Source: Xinhua | Updated: 2024-03-05 10:00\n" + text + "\nShare on WeChat · Weibo", False
    yield "title_repeat", "标题：" + text[:30] + "\n" + text, False
    yield "full_width_digits", text.translate(str.maketrans("0123456789", "０１２３４５６７８９")), False
    yield "markdown_img", "![图片](https://img.example.com/1.jpg)\n" + text + "\n*本文来自网络*", False
    page = "<p>" + text.replace("\n", "</p><p>") + "</p>"
    yield "html_page", ("<html><body><div class='nav'>首页 | 新闻</div><article>" + page +
                        "</article><footer>版权所有 © 2024</footer></body></html>"), True
    yield "zero_width", text.replace("，", "，\u200b"), False
    yield "corner_quotes", text.replace("“", "「").replace("”", "」"), False
    yield "line_breaks", "\n".join(text[i:i + 40] for i in range(0, len(text), 40)), False


def twins(text: str) -> Iterator[tuple[str, str]]:
    """(kind, variant) about a different event: one fact past the opening changed."""
    number = re.compile(r"\d+").search(text, _OPENING)
    if number:
        yield "number", text[:number.start()] + str(int(number.group()) + 3) + text[number.end():]
    for word, flag in pseg.cut(text[_OPENING:_OPENING + 240]):
        if flag in _OTHERS and len(word) >= 2:
            other = next(w for w in _OTHERS[flag] if w != word)
            yield f"name_{flag}", text[:_OPENING] + text[_OPENING:].replace(word, other, 1)
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", type=Path, default=ROOT / "eval" / "zh_dev.jsonl")
    parser.add_argument("--originals", type=int, default=300)
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.dataset.read_text(encoding="utf-8").splitlines() if line.strip()]
    originals = [r for r in rows if r["recipe"] == "original" and len(r.get("text") or "") > 300]
    originals = originals[:args.originals]
    found: Counter[str] = Counter()
    asked: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="dedup-variations-") as tmp:
        engine = Engine(Settings(database_url=str(Path(tmp) / "v.db"), redis_url=None))
        engine.ingest_many([ArticleIn(url=r["url"], text=r["text"], title=r.get("title"),
                                      published_at=r.get("published_at")) for r in originals])
        for row in originals:
            variants = [(k, v, html) for k, v, html in reposts(row["text"])]
            variants += [(k, v, False) for k, v in twins(row["text"])]
            for kind, text, is_html in variants:
                asked[kind] += 1
                matches = engine.query_text(text, is_html=True if is_html else None)
                found[kind] += any(m.url == row["url"] for m in matches)
        engine.close()
    report = {kind: {"found": found[kind], "of": asked[kind]} for kind in asked}
    print(json.dumps({"originals": len(originals), "variants": report}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
