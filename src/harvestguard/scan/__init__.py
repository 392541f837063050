"""``harvestguard scan``: access logs -> events -> the detection engine -> ranked addresses,
explanations and ban lists. docs/scan.md describes it."""

from harvestguard.scan.scanner import Scanner, ScanOptions, ScanResult
from harvestguard.scan.verdicts import AddressVerdict, address_verdicts, ban_addresses

__all__ = [
    "AddressVerdict",
    "ScanOptions",
    "ScanResult",
    "Scanner",
    "address_verdicts",
    "ban_addresses",
]
