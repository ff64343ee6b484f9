"""Structured logs: one line per request, Celery task and WebSocket connection, with a request id.

Built on django-structlog (structlog's Django and Celery integration, kept up to date with both):
its middleware writes the request line and binds ``request_id`` for everything logged while the
request runs, and its Celery receivers carry the bound context in each task's headers into the
worker, so a task enqueued by a request — after commit or not — logs the request's id, and a task
enqueued by a task logs the id of the task's request. We chose it over django-guid + structlog
because it does both jobs (the request line and the Celery propagation) in one library, where
django-guid would carry the id and leave the request and task lines to us.

What is ours: the request id an upstream may send is accepted only when well formed and is echoed
in the response (``middleware``); requests are named by their URL route, never their path or query
(a path can hold an invitation token or a username); tasks with no request behind them (beat's
sweepers) and tasks run in-process (embedded mode) get an id of their own (``task_context``); the
WebSocket lines (``sockets``); and a processor that redacts secrets and member data from every line,
structlog's and the standard library's alike (``redaction``). ``setup`` builds the ``LOGGING``
dictionary: JSON lines in production and services mode, human-readable lines in ``make run``.
"""
