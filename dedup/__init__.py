"""Near-duplicate detection and clustering of news articles."""
