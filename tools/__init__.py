"""Command-line tools for developers and operators (`python -m tools.<name>`).

The top layer: the serve entry point that applies the Rasa patches, the benchmark, the
build steps of the spaCy pipeline and jieba dictionary, the FAQ response sync and the
store preflight. Nothing below imports from here.
"""
