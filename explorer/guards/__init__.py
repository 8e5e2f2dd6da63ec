"""Guards: the checks every stranger's input passes before anything else sees it.

Owns ``netguard`` (the one guarded HTTP session: URL checks, the address actually connected to,
redirects, deadlines), ``request_limits`` (the one linear parser for query strings, with limits),
``safe_yaml`` (YAML without aliases) and ``textsafe`` (untrusted descriptions → safe Markdown).

The lowest floor: may import only ``explorer.settings`` and third-party libraries.
"""
