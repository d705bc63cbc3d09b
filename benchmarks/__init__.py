"""leadpilot's benchmarks: one script per figure of the README, and ``python -m benchmarks``
(``__main__.py``) to run them all and regenerate the README's performance table."""
