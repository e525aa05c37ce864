"""Long-term memory of each customer: extraction, hybrid recall, erasure."""
