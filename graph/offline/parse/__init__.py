"""The offline model's text understanding, one module per kind of thing customers write; see `graph.offline.parsing`."""
