"""`python -m zplan`, as the `zplan` command."""

from zplan.cli.launch import main

main()
