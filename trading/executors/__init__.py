"""Trade executors behind one interface: validation, simulation, and Alpaca paper/live."""
