from embed.cli import main

main()
