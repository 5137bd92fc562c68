"""Helpers every layer of l1ad uses: errors a user can act on, atomic files and run-folder state, plot style.

The packages point down only: the command line (``l1ad.cli`` and the modules beside it) uses
:mod:`l1ad.firmware`, which uses :mod:`l1ad.training`; all three use this package, which uses none of them
(``tests/test_architecture.py`` checks it).
"""
