"""harvestguard: protects the users of a social platform from third-party data harvesting."""

__version__ = "0.1.0"
