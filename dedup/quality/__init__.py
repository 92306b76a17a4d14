"""Quality figures: pairwise scores on a labeled set and on judged pairs of a real crawl."""
