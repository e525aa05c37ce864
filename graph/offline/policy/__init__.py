"""The offline model's policies, one module per subgraph; `graph.offline.policies.decide` dispatches."""
