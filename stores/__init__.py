"""Conversation stores for the production profile.

`stores.strict` holds the Rasa tracker and lock stores that `endpoints.production.yml` names;
`stores.connectivity` the connection checks they share with `tools/check_stores.py`.
"""
