"""Tools for trainers: data check, scaffolding, NLU report, learning from conversations.

Each module is a command (`python -m trainer.<name>`); the Makefile wraps them and
TRAINING.md explains them.
"""
