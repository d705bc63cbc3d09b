"""The built-in eligibility rules, one module each, registered like any plugin (see
:mod:`leadpilot.policy.registry`)."""
