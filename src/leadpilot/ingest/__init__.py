"""Intake: readers, CRM presets, value normalisation, validation, identity and dedupe."""
