"""The fs and lxc tests' fixtures, for the start-up tests that run those agents here."""

from tests.fs.conftest import ext4  # noqa: F401 - a fixture, found by name
from tests.lxc.conftest import container_pool  # noqa: F401 - a fixture, found by name
