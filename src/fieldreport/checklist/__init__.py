"""Premises and walk-through inspections (issue 5): templates, the walk engine, finishing
into hazard reports, re-inspection, the printable advice sheet, and the sync hooks."""
