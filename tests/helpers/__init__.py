"""Shared test helpers: the scripted server (one reply per request), local origin/proxy servers, black-box probes."""
