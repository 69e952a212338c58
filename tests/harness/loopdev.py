"""Loop devices over sparse files, detached on cleanup."""

from __future__ import annotations

import subprocess
from pathlib import Path


class LoopPool:
    """Creates loop devices over sparse files in ``directory``; ``cleanup`` detaches them."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._devices: list[str] = []

    def create(self, size_mb: int = 64, name: str = "disk") -> str:
        image = self._dir / f"{name}-{len(self._devices)}.img"
        with open(image, "wb") as handle:
            handle.truncate(size_mb * 1024 * 1024)
        device = subprocess.run(["/usr/sbin/losetup", "--find", "--show", str(image)],
                                capture_output=True, text=True, check=True,
                                timeout=30).stdout.strip()
        self._devices.append(device)
        return device

    def cleanup(self) -> None:
        for device in reversed(self._devices):
            subprocess.run(["/usr/sbin/losetup", "-d", device], capture_output=True,
                           check=False, timeout=30)
        self._devices.clear()
