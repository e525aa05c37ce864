"""The HTTP service: webhooks, health, console; the queue worker; outbound channels."""
