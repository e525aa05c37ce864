"""Everything persisted: pools, migrations, checkpointer, repositories, search and embeddings."""
