"""``python -m leadpilot``: the ``leadpilot`` command."""

from leadpilot.cli.main import main

if __name__ == "__main__":
    main()
