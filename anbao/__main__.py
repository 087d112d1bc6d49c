"""``python -m anbao`` is the ``anbao`` command."""

from anbao.cli import main

main()
