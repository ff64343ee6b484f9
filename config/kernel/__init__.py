"""The kernel every app builds on, and which imports no app.

* ``errors``: ``DomainError`` (the one exception a rule of the domain raises), the stable error
  codes, and the one translation of errors into API answers (``{"code", "detail"}``).
* ``after_commit``: work that must wait for the transaction (tasks by name, signals, calls).
* ``locks``: members' rows locked in one order, so two writers never deadlock on them.
* ``serializers``: the strict serializer (unknown fields are an error, not ignored).
* ``env``: settings read from the environment; ``chunks``: fixed-size slices of a sequence.
* ``client_ip``: the client's address behind ``TRUSTED_PROXIES``; ``throttles``: DRF's throttles
  keyed on it; ``json_limits``: the one JSON reader (size and nesting limits) of the API, the
  signed ingestion and the socket; ``openapi``: the API's errors in its OpenAPI document;
  ``loopback``: DEBUG answers this machine only.
"""
