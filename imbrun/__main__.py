from imbrun.cli import main

main()
