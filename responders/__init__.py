"""What to say and getting it said: templates, the tone guard, the outbox and the private case."""
