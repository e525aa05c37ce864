"""The conversation: typed state, the router, the agents, build_graph()."""
