"""`python -m ferrotok`: the same command line as `ferrotok` (see `ferrotok.cli`)."""

from ferrotok.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
