"""The eval suite: YAML scenarios run through the real graph, graded by the final database state."""
