from zplan.cli.app import main

main()
