"""The nightly re-cluster of the whole corpus (in process or on Spark), its run log and guard."""
