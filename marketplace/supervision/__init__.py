"""Supervision: dashboards, exports and audits for market supervisors."""
