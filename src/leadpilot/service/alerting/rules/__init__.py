"""One module per alert rule, each exposing ``RULE`` (collected by ``alerting.registry``)."""
