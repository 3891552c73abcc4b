"""Whether an account's endpoint still exists: a deleted account's host name stops resolving.

Azure removes a Storage or Batch account's DNS name with the account, so the
name's resolver answers "no such name" (NXDOMAIN). That, and only that, says
the account is gone: a resolver that does not answer at all (no network, a DNS
server down: ``EAI_AGAIN``) or a connection that fails says nothing about it.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

#: getaddrinfo's errors for a name that does not exist or has no address (glibc: -2 and -5).
NO_SUCH_NAME = frozenset(
    code for code in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None)) if code is not None
)


def endpoint_gone(endpoint: str) -> bool:
    """True when the endpoint's host name does not exist (the account was deleted, or never was);
    False when it resolves, and when the resolver gives no answer (nothing is known then)."""
    host = urlsplit(endpoint if "//" in endpoint else f"//{endpoint}").hostname
    if not host:
        return False
    try:
        socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        return exc.errno in NO_SUCH_NAME
    except (OSError, UnicodeError):  # a name too long or not encodable: not an answer about it
        return False
    return False
