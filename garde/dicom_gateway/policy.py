"""Association policy: who may send to the gateway (pure, no sockets).

Checked on the A-ASSOCIATE request, before any presentation context is negotiated:
the calling AE title must be a configured hospital's, optionally the called AE title
must be ours, and a hospital with an IP allow-list may only connect from it.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from garde.dispatch.model import Site

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Rejection:
    """An A-ASSOCIATE-RJ: result, source and reason/diagnostic (PS3.8 9.3.4)."""

    result: int
    source: int
    diagnostic: int
    why: str  # for the log, never sent


def calling_ae_not_recognised(ae: str) -> Rejection:
    """Rejected permanently by the service user: calling AE title not recognised."""
    return Rejection(0x01, 0x01, 0x03, f"calling AE {ae!r} belongs to no configured site")


def called_ae_not_recognised(ae: str) -> Rejection:
    """Rejected permanently by the service user: called AE title not recognised."""
    return Rejection(0x01, 0x01, 0x07, f"called AE {ae!r} is not ours")


def address_not_allowed(ae: str, address: str) -> Rejection:
    """Rejected permanently, no reason given: the sender learns nothing about the list."""
    return Rejection(0x01, 0x01, 0x01, f"{address} is not on the allow-list of AE {ae!r}")


def local_limit_exceeded(limit: int) -> Rejection:
    """Rejected transiently by the service provider (presentation): local limit exceeded."""
    return Rejection(0x02, 0x03, 0x02, f"already {limit} associations in progress")


@dataclass(frozen=True, slots=True)
class _SitePolicy:
    site: Site
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


class AssociationPolicy:
    """Decides whether an association request is accepted, and from which site.

    Parameters
    ----------
    sites
        The configured hospitals; their ``ae_titles`` are the calling AE titles allowed,
        their ``ip_allow`` (addresses or CIDR networks, empty: any) where from.
    our_ae
        The gateway's own AE title.
    check_called_ae
        Refuse requests whose called AE title is not ``our_ae``.
    """

    def __init__(self, sites: Iterable[Site], our_ae: str, *, check_called_ae: bool) -> None:
        self._by_ae: dict[str, _SitePolicy] = {}
        for site in sites:
            policy = _SitePolicy(site, _networks(site.id, site.ip_allow))
            for ae in site.ae_titles:
                self._by_ae[ae.strip()] = policy
        self._our_ae = our_ae.strip()
        self._check_called_ae = check_called_ae

    def site_for(self, calling_ae: str) -> Site | None:
        """The site a calling AE title belongs to, if any."""
        policy = self._by_ae.get(calling_ae.strip())
        return None if policy is None else policy.site

    def check(self, calling_ae: str, called_ae: str, address: str) -> Site | Rejection:
        """The sending site if the request is acceptable, else why it is rejected."""
        calling = calling_ae.strip()
        policy = self._by_ae.get(calling)
        if policy is None:
            return calling_ae_not_recognised(calling)
        if self._check_called_ae and called_ae.strip() != self._our_ae:
            return called_ae_not_recognised(called_ae.strip())
        if policy.networks and not _allowed(address, policy.networks):
            return address_not_allowed(calling, address)
        return policy.site


def _networks(
    site_id: str, entries: Sequence[str]
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ValueError(f"site {site_id!r}: ip_allow entry {entry!r} is invalid") from exc
    return tuple(networks)


def _allowed(
    address: str, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # an IPv4 client on a dual-stack socket
    return any(ip in network for network in networks)
