"""The analysts' dashboard (docs/dashboard.md): ``harvestguard serve``, or mounted beside the app."""

from harvestguard.dashboard.accounts import AccountError as AccountError
from harvestguard.dashboard.accounts import AccountStore as AccountStore
from harvestguard.dashboard.accounts import Role as Role
from harvestguard.dashboard.app import DashboardOptions as DashboardOptions
from harvestguard.dashboard.app import create_dashboard as create_dashboard
from harvestguard.dashboard.app import serve_dashboard as serve_dashboard
