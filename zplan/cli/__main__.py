from zplan.cli.launch import main

main()
