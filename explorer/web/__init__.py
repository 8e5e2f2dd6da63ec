"""The web side: what requests may ask, checked before any work (see each module)."""
