"""``python -m lstui``: the ``lstui`` command."""

from lstui.cli import main

if __name__ == "__main__":
    main()
