"""`python -m batch.watch`: the colored-watch command."""

from batch.watch.daemon import main

main()
