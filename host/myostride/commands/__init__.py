"""One module per `myostride` subcommand."""
