"""The model lifecycle: a registry of model versions in the store, retraining on fresh
outcomes with a champion / challenger comparison, promotion and rollback, and the weekly
review report."""
