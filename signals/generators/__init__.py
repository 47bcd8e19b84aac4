"""Signal generators: each watches the market for one kind of event on its own interval."""
