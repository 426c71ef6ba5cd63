"""Experiments built on training: the demo (`kavan demo`), the paper's tables
and claims (`kavan results`), and loss-weight search (`kavan tune`)."""
