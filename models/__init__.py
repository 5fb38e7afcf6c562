"""Tables and the domain functions that change them. Web pages, the CLI, the inbox and the
outbox all go through these functions; none of them writes rows directly."""
