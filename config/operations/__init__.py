"""What an operator's tools read: health probes for load balancers (``health``) and Prometheus
metrics (``metrics``), served ahead of the rest of the middleware (``middleware``).
docs/operations.md says what each check and metric means and what to do when it is off."""
