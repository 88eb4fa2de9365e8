"""Custom Rasa input channels (named in credentials.yml as `channels.<module>.<Class>`)."""
