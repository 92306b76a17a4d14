"""What operators run around the core: repost alerts, exports, retention, the scheduler."""
