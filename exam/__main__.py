from exam.cli import main

main()
