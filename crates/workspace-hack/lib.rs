//! Feature unification of the pipewright repository's builds: see `scripts/workspace-hack.py`.
