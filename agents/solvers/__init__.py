"""Closed forms and numerical solutions of the optimal trading problems (float64, host side)."""
