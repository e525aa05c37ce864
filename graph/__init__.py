"""The conversation: typed state, the router, the five subgraphs, build_graph()."""
