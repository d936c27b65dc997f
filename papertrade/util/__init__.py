"""Helpers every layer may use; they import nothing of papertrade's but :mod:`papertrade.errors`.

- :mod:`.text`: did-you-mean suggestions and one-line, capped messages;
- :mod:`.secrets`: redaction of secrets by key name and by value;
- :mod:`.paths`: config-relative path resolution;
- :mod:`.validation`: pydantic validation errors as one-line :class:`ConfigError` s.
"""
