"""The command line: thin click commands that parse arguments, call the library and render results."""
