"""Text: article text out of its wrapper, then one ordered normalization (boilerplate, page code, script
variants, punctuation) so that what a repost changes is folded away and what a story says is kept."""
