"""Jobs: every long operation as a plain object (config in, plain-data events and result out),
run in-process by the CLI or in the engine process for the window."""
