"""The shared instance library and the code that builds it."""
