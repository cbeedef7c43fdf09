"""mentionbot: brand mentions in, doctrine-following replies and on-time follow-ups out."""

__version__ = "0.1.0"
