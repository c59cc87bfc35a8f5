"""Agents as frozen pytrees with `__call__(key, obs) -> action`, built from `(env, params)`."""
