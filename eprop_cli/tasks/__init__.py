"""Tasks: what each kind of experiment draws, feeds the network, and scores."""
