"""Route modules; each is a thin adapter: validate, call the engine, shape the response."""
