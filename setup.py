"""Builds the optional C accelerator; without a compiler the numpy paths are used."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("dedup.sketch._native", ["dedup/sketch/_native.c"], extra_compile_args=["-O3"],
                             optional=True)])
