"""`python -m spendledger.cli`."""

from spendledger.cli import main

main()
