"""Django-style query sets over any model."""
