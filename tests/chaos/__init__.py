"""The fault battery (T1-T18 of RELIABILITY.md): real processes, injected faults, a checker."""
