"""``python -m lstui``: the ``lstui`` command."""

from lstui._entry import main

if __name__ == "__main__":
    main()
