"""Instructor-only tools; never shipped to students."""
