"""What every container of a node may do: no privileged mode, no new privileges, and only
the capabilities ordinary builds need.

Docker's defaults also grant MKNOD, NET_RAW, SETFCAP, SYS_CHROOT and AUDIT_WRITE;
a build has no use for device nodes, raw sockets (spoofed packets on the bridge)
or file capabilities, so they are dropped. ``no-new-privileges`` stops a setuid
binary in a stranger's image from raising what its process may do.
"""

from __future__ import annotations

from typing import Any

CAPABILITIES = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "NET_BIND_SERVICE",
]

LEAST_PRIVILEGE: dict[str, Any] = {
    "privileged": False,
    "cap_drop": ["ALL"],
    "cap_add": CAPABILITIES,
    "security_opt": ["no-new-privileges"],
}
