"""Shingles and signatures: datasketch-compatible values, fallbacks, and scores."""

from __future__ import annotations

import numpy as np
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.config import DecisionConfig, SignatureConfig
from dedup.decide.verify import decide, exact_scores
from dedup.sketch.shingle import shingle_hashes
from dedup.sketch.signature import minhash_values
from tests.conftest import needs_native

SIG = SignatureConfig()


def test_signature_equals_datasketch_minhash_over_the_same_hashes():
    shingles = shingle_hashes("今年以来双鸭山市在抗击疫情的同时全力抓住招商引资和项目建设", SIG)
    reference = MinHash(num_perm=SIG.num_perm, seed=SIG.seed, scheme="affine32", hashfunc=lambda x: x)
    reference.update_batch(shingles.tolist())
    assert np.array_equal(minhash_values(shingles, SIG), reference.hashvalues)


def test_short_text_gets_one_shingle_and_empty_text_none():
    assert len(shingle_hashes("新闻", SIG)) == 1
    assert len(shingle_hashes("", SIG)) == 0


def test_latin_text_uses_word_ngrams():
    a = shingle_hashes("the quick brown fox jumps over the lazy dog", SIG)
    assert len(a) == 7  # 9 words, 3-word shingles


def test_empty_shingle_set_never_matches():
    empty = shingle_hashes("", SIG)
    verdict = decide("", "", empty, empty, DecisionConfig())
    assert not verdict.is_duplicate


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=1, max_size=300))
def test_identical_texts_score_one(text):
    sh = shingle_hashes(text, SIG)
    scores = exact_scores(sh, sh)
    assert scores.jaccard == 1.0 and scores.containment == 1.0


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=1, max_size=12),
       st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=1, max_size=12))
def test_short_unrelated_texts_never_match(a, b):
    if set(a) & set(b):
        return
    sh_a, sh_b = shingle_hashes(a, SIG), shingle_hashes(b, SIG)
    assert not decide(a, b, sh_a, sh_b, DecisionConfig()).is_duplicate


@needs_native
@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from("的一是在不了有和人这中大为上个国我 abc xyz 123"), max_size=400),
       st.integers(min_value=1, max_value=9))
def test_accelerated_and_numpy_paths_agree(text, n):
    config = SignatureConfig(ngram=n, word_ngram=min(n, 8))
    fast = shingle_hashes(text, config)
    slow = shingle_hashes(text, config, accelerated=False)
    assert np.array_equal(fast, slow)
    if len(slow):
        assert np.array_equal(minhash_values(fast, config), minhash_values(slow, config, accelerated=False))
