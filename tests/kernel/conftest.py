"""Fixtures for the kernel-guest suites: one Ceph cluster in a namespace for the session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.harness.vm import GuestKernel
from tests.kernel.guestkit import VmCeph, vm_ceph_running


@pytest.fixture(scope="session")
def vm_ceph(guest_kernel: GuestKernel) -> Iterator[VmCeph]:
    """A one-node Ceph cluster on 198.18.0.1 in its own namespace, for QEMU guests started in
    that namespace."""
    with vm_ceph_running(f"hakit-vm-{os.getpid()}") as ceph:
        yield ceph
