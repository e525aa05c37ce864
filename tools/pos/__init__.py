"""The point of sale: the versioned events we send it and the status updates it sends back."""
