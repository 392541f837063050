"""Who may see what: the policy model, its YAML form, and ``redact``, the boundary personal data
leaves through."""

from harvestguard.policy.loader import PolicyError, default_policy, load_policy, load_policy_text
from harvestguard.policy.model import Audience, Disclosure, Policy
from harvestguard.policy.redact import redact

__all__ = [
    "Audience",
    "Disclosure",
    "Policy",
    "PolicyError",
    "default_policy",
    "load_policy",
    "load_policy_text",
    "redact",
]
