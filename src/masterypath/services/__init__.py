"""Use cases. Each public method is one unit of work: it opens the transaction,
calls repositories, and commits or rolls back as a whole."""
