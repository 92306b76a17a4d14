"""The duplicate decision: exact scores, the guard against template twins, and the explanation of a
verdict (shared and differing passages, what normalization removed)."""
