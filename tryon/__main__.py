from tryon.cli import main

main()
