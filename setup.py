"""The one compiled module: the audit middleware's request-path helpers (``audit/_capture.c``;
its header says why it is C). Everything else is in ``pyproject.toml``; setuptools still takes
extension modules from here only (its ``pyproject.toml`` table is experimental). The install
needs a C compiler and zlib's headers (``deploy/local/prereqs.sh``).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("audit._capture", ["audit/_capture.c"], libraries=["z"])])
