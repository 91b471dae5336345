"""``python -m lstui``: the ``lstui`` command."""

from lstui.cli import main

main()
