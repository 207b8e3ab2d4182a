"""Reading exception/signature JSON sources (comments, positions, dispatch)."""
