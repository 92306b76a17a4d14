"""Clusters: stable ids and representatives, upkeep of cluster rows, operator corrections, and the
cache of what verification needs to know about stored articles."""
