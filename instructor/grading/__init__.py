"""Stages of grading added after instructor/grade*.py (instructor only)."""
