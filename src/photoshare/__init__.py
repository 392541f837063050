"""photoshare: a small Instagram-like platform, the system harvestguard protects."""
