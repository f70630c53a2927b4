"""Run the autometa command line from a checkout: ``python cli.py --help``."""
from autometa.cli import main

if __name__ == "__main__":
    main()
