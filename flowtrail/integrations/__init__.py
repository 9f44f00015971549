"""Engine adapters. Each depends on the core, never on another adapter, and imports its engine lazily."""
